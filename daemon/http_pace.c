/* http_pace.c - the byte-rate pacer of HTTP bodies: a connection whose
 * reader finds the limiter's byte budget empty is suspended
 * (http_pace_suspend) and this thread resumes it when it is due, so no
 * thread busy-waits and other connections keep flowing.
 */
#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "clock.h"
#include "http_int.h"

struct pace_item {
	struct MHD_Connection *conn;
	uint64_t due_ns;
};

#define PACE_MAX 4096

static pthread_mutex_t pace_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pace_cv;
static struct pace_item pace_q[PACE_MAX];
static unsigned pace_n;
static int pace_running, pace_stopping;
static pthread_t pace_thread;

static struct MHD_Connection *pace_due[PACE_MAX]; /* pacer thread only */

static void *pace_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&pace_mu);
	while (pace_running) {
		uint64_t now = clock_now_ns(), next = UINT64_MAX;
		unsigned ndue = 0;
		for (unsigned i = 0; i < pace_n;) {
			if (pace_q[i].due_ns <= now || pace_stopping) {
				pace_due[ndue++] = pace_q[i].conn;
				pace_q[i] = pace_q[--pace_n];
			} else {
				if (pace_q[i].due_ns < next)
					next = pace_q[i].due_ns;
				i++;
			}
		}
		if (ndue > 0) {
			/* Resume outside pace_mu: each resume takes libmicrohttpd's
			 * own lock and wakes its thread, and readers suspending
			 * meanwhile should not wait for that.  A dequeued
			 * connection stays suspended until resumed here, so no
			 * one else can resume it twice.  Then look again. */
			pthread_mutex_unlock(&pace_mu);
			for (unsigned i = 0; i < ndue; i++)
				MHD_resume_connection(pace_due[i]);
			pthread_mutex_lock(&pace_mu);
			continue;
		}
		if (!pace_running)
			break;
		if (next == UINT64_MAX) {
			pthread_cond_wait(&pace_cv, &pace_mu);
		} else {
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			uint64_t wait = next - now;
			uint64_t ns = (uint64_t)ts.tv_nsec + wait % 1000000000ull;
			ts.tv_sec += (time_t)(wait / 1000000000ull + ns / 1000000000ull);
			ts.tv_nsec = (long)(ns % 1000000000ull);
			pthread_cond_timedwait(&pace_cv, &pace_mu, &ts);
		}
	}
	/* Never leave a connection suspended: the daemon could not stop. */
	for (unsigned i = 0; i < pace_n; i++)
		MHD_resume_connection(pace_q[i].conn);
	pace_n = 0;
	pthread_mutex_unlock(&pace_mu);
	return NULL;
}

int http_pace_start(void)
{
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&pace_cv, &ca);
	pthread_condattr_destroy(&ca);
	pace_running = 1;
	pace_stopping = 0;
	if (pthread_create(&pace_thread, NULL, pace_main, NULL) != 0) {
		pace_running = 0;
		return -1;
	}
	return 0;
}

void http_pace_stop(void)
{
	if (!pace_running)
		return;
	pthread_mutex_lock(&pace_mu);
	pace_stopping = 1;
	pace_running = 0;
	pthread_cond_signal(&pace_cv);
	pthread_mutex_unlock(&pace_mu);
	pthread_join(pace_thread, NULL);
}

int http_pace_suspend(struct MHD_Connection *conn, uint64_t due)
{
	int rc = -1;
	pthread_mutex_lock(&pace_mu);
	if (pace_running && !pace_stopping && pace_n < PACE_MAX) {
		MHD_suspend_connection(conn);
		pace_q[pace_n].conn = conn;
		pace_q[pace_n].due_ns = due;
		pace_n++;
		pthread_cond_signal(&pace_cv);
		rc = 0;
	}
	pthread_mutex_unlock(&pace_mu);
	return rc;
}
