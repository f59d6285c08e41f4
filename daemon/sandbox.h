/* sandbox.h - the only module that changes privileges. */
#ifndef PUBMIRROR_SANDBOX_H
#define PUBMIRROR_SANDBOX_H

#include <signal.h>
#include <stddef.h>

struct config;

/* Raise RLIMIT_NOFILE for max_clients, turn core dumps off.  0 or -1 (err). */
int sandbox_rlimits(const struct config *c, char *err, size_t errsz);
/* When root: drop to c->user (its group, no supplementary groups).  Then
 * no_new_privs, filesystem confinement and the syscall filter where
 * available.  Logs what could not be applied.  0 or -1 (err).
 * Threads that exist already get the same restrictions: Landlock is
 * applied in each of them from a handler of SANDBOX_THREAD_SIGNAL, so they
 * must not block that signal (a blocking read/poll in them may see EINTR;
 * the handler is SA_RESTART).  sandbox_enter waits at most 2 s for them.
 * After it: no fork/exec, no new privileges, sockets only AF_INET, AF_INET6
 * and AF_UNIX, files only beneath the allowed directories. */
int sandbox_enter(const struct config *c, char *err, size_t errsz);
/* The privileged helper's confinement (privsep.c), in its process before
 * it serves a request: when root, it stays uid 0 but drops every
 * capability but CAP_DAC_READ_SEARCH (when it has it: reading keys of any
 * owner), from the bounding set too where it may; no_new_privs, not
 * dumpable; Landlock: read anywhere, write only in state_dir; seccomp: the
 * serving process's allowlist plus rename/unlink/mkdir/fchmod.  0 or -1. */
int sandbox_enter_helper(const struct config *c, char *err, size_t errsz);
/* Also allow reading the directory of path after sandbox_enter (e.g. the
 * config file, re-read on SIGHUP).  Call before sandbox_enter; at most 8.
 * 0 or -1. */
int sandbox_allow_read(const char *path);

/* Signal used once by sandbox_enter to reach threads started before it. */
#define SANDBOX_THREAD_SIGNAL (SIGRTMAX - 3)

#endif
