/* test_ftp_sess.c - an FTP session's states: every step of the tables in
 * ftp_sess_login (login) and ftp_sess_phase (control connection) is
 * allowed and every other one refused (the session then closes with 421),
 * and ftp_sess_defaults gives a session the settings of a new connection. */
#include <stdlib.h>

#include "unit.h"
#include "ftp_int.h"

static const char *const names[] = {"NONE", "USER_ANON", "USER_NAMED", "CHECKING", "ANON", "NAMED"};

/* 1 when from -> to is one of the steps enum ftp_login documents. */
static int documented(enum ftp_login from, enum ftp_login to)
{
	if (to == FTP_LOGIN_NONE)
		return 1;
	if (to == FTP_LOGIN_USER_ANON || to == FTP_LOGIN_USER_NAMED)
		return from == FTP_LOGIN_NONE || from == FTP_LOGIN_USER_ANON ||
		       from == FTP_LOGIN_USER_NAMED;
	if (to == FTP_LOGIN_ANON)
		return from == FTP_LOGIN_USER_ANON;
	if (to == FTP_LOGIN_CHECKING)
		return from == FTP_LOGIN_USER_NAMED;
	return from == FTP_LOGIN_CHECKING && to == FTP_LOGIN_NAMED;
}

static const char *const phases[] = {"NEW", "PROXY", "TLS_GREET", "OPEN", "AUTH_REPLY", "TLS_AUTH"};

/* 1 when from -> to is one of the steps enum ftp_phase documents. */
static int phase_documented(enum ftp_phase from, enum ftp_phase to)
{
	switch (to) {
	case FTP_PHASE_PROXY:
		return from == FTP_PHASE_NEW;
	case FTP_PHASE_TLS_GREET:
		return from == FTP_PHASE_NEW || from == FTP_PHASE_PROXY;
	case FTP_PHASE_OPEN:
		return from == FTP_PHASE_NEW || from == FTP_PHASE_PROXY ||
		       from == FTP_PHASE_TLS_GREET || from == FTP_PHASE_TLS_AUTH;
	case FTP_PHASE_AUTH_REPLY:
		return from == FTP_PHASE_OPEN;
	case FTP_PHASE_TLS_AUTH:
		return from == FTP_PHASE_AUTH_REPLY;
	case FTP_PHASE_NEW:
		break;
	}
	return 0;
}

static void phase_table(void)
{
	char what[96];

	for (int from = FTP_PHASE_NEW; from <= FTP_PHASE_TLS_AUTH; from++) {
		for (int to = FTP_PHASE_NEW; to <= FTP_PHASE_TLS_AUTH; to++) {
			struct ftp_loop l = {0};
			struct ftp_sess *s = calloc(1, sizeof(*s));
			if (s == NULL)
				exit(2);
			s->loop = &l;
			buf_init(&s->out, 4096);
			s->phase = (enum ftp_phase)from;
			int want = phase_documented(from, to) ? 0 : -1;
			snprintf(what, sizeof(what), "phase %s -> %s %s", phases[from], phases[to],
			         want == 0 ? "allowed" : "refused");
			CHECK_INT(what, want, ftp_sess_phase(s, (enum ftp_phase)to));
			snprintf(what, sizeof(what), "phase %s -> %s: phase after", phases[from],
			         phases[to]);
			CHECK_INT(what, want == 0 ? to : from, s->phase);
			snprintf(what, sizeof(what), "phase %s -> %s: closing only when refused",
			         phases[from], phases[to]);
			CHECK_INT(what, want != 0, s->closing);
			snprintf(what, sizeof(what), "phase %s -> %s: handshake predicate",
			         phases[from], phases[to]);
			CHECK_INT(what,
			          s->phase == FTP_PHASE_TLS_GREET || s->phase == FTP_PHASE_TLS_AUTH,
			          ftp_in_handshake(s));
			buf_free(&s->out);
			free(s);
		}
	}
}

int main(void)
{
	char what[96];

	phase_table();

	for (int from = FTP_LOGIN_NONE; from <= FTP_LOGIN_NAMED; from++) {
		for (int to = FTP_LOGIN_NONE; to <= FTP_LOGIN_NAMED; to++) {
			struct ftp_loop l = {0};
			struct ftp_sess *s = calloc(1, sizeof(*s));
			if (s == NULL)
				return 2;
			s->loop = &l;
			buf_init(&s->out, 4096);
			s->login = (enum ftp_login)from;
			int want = documented(from, to) ? 0 : -1;
			snprintf(what, sizeof(what), "%s -> %s %s", names[from], names[to],
			         want == 0 ? "allowed" : "refused");
			CHECK_INT(what, want, ftp_sess_login(s, (enum ftp_login)to));
			snprintf(what, sizeof(what), "%s -> %s: state after", names[from],
			         names[to]);
			CHECK_INT(what, want == 0 ? to : from, s->login);
			snprintf(what, sizeof(what), "%s -> %s: closing only when refused",
			         names[from], names[to]);
			CHECK_INT(what, want != 0, s->closing);
			if (want != 0) {
				snprintf(what, sizeof(what), "%s -> %s: 421 sent", names[from],
				         names[to]);
				CHECK(what, s->out.len >= 4 && memcmp(s->out.data, "421 ", 4) == 0);
			}
			buf_free(&s->out);
			free(s);
		}
	}

	/* a logged-in session with every setting changed, back to defaults */
	struct ftp_loop l = {0};
	struct ftp_sess *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return 2;
	s->loop = &l;
	s->login = FTP_LOGIN_NAMED;
	snprintf(s->user, sizeof(s->user), "alice");
	snprintf(s->anon_id, sizeof(s->anon_id), "a@b");
	snprintf(s->cwd, sizeof(s->cwd), "pub");
	s->ascii = 0;
	s->mode_z = s->epsv_all = s->pbsz = s->prot_p = s->rnfr = 1;
	s->zlevel = 9;
	s->rest = s->rang_end = 7;
	s->halgo = HASH_MD5;
	s->mlst_mask = FTP_FACT_SIZE;
	ftp_sess_defaults(s);
	CHECK_INT("defaults: not logged in", FTP_LOGIN_NONE, s->login);
	CHECK_INT("defaults: not logged in (predicate)", 0, ftp_is_logged_in(s));
	CHECK_STR("defaults: no user", "", s->user);
	CHECK_STR("defaults: no anonymous id", "", s->anon_id);
	CHECK_STR("defaults: root directory", "", s->cwd);
	CHECK_INT("defaults: TYPE A", 1, s->ascii);
	CHECK_INT("defaults: MODE S", 0, s->mode_z);
	CHECK_INT("defaults: MODE Z level", 6, s->zlevel);
	CHECK_INT("defaults: EPSV ALL off", 0, s->epsv_all);
	CHECK_INT("defaults: no PBSZ", 0, s->pbsz);
	CHECK_INT("defaults: PROT C", 0, s->prot_p);
	CHECK_INT("defaults: no REST", 0, s->rest);
	CHECK_INT("defaults: no RANG", 0, s->rang_end);
	CHECK_INT("defaults: no RNFR", 0, s->rnfr);
	CHECK_INT("defaults: HASH SHA-256", HASH_SHA256, s->halgo);
	CHECK_INT("defaults: every MLST fact", FTP_FACT_ALL, s->mlst_mask);
	CHECK("defaults: login clock started", s->t_start != 0);
	s->login = FTP_LOGIN_ANON;
	CHECK_INT("ANON is logged in", 1, ftp_is_logged_in(s));
	CHECK_INT("ANON is anonymous", 1, ftp_is_anon(s));
	s->login = FTP_LOGIN_CHECKING;
	CHECK_INT("CHECKING is not logged in", 0, ftp_is_logged_in(s));
	free(s);
	return unit_done();
}
