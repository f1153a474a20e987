/* The one spawn helper: fork, in the child reset signals, map fds, sweep the rest with
 * close_range(CLOSE_RANGE_CLOEXEC), optionally setsid/pdeathsig/chdir, execve; exec failure is
 * reported over a CLOEXEC pipe so the parent gets a real error. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include "lib/err.h"

struct gdn_spawn_opts {
	const char *path;     /* executable; if it has no '/', PATH is searched */
	char *const *argv;    /* argv[0] included; NULL-terminated */
	char *const *envp;    /* NULL: inherit environ */
	int stdin_fd;	      /* -1: /dev/null */
	int stdout_fd;	      /* -1: /dev/null */
	int stderr_fd;	      /* -1: /dev/null */
	const int *extra_fds; /* become fds 3, 4, 5, ... in the child */
	size_t n_extra_fds;
	bool setsid;
	/* Not our child: it is exec'd by a grandchild whose parent exits at once, so init (or the
	 * nearest subreaper) reaps it. gdn_spawn then gives no pid or pidfd. */
	bool detach;
	int pdeathsig;	 /* 0: none */
	const char *cwd; /* NULL: inherit */
};

/* Starts the child; returns once it has exec'd (or failed to, with the reason in *err).
 * *ret_pidfd (if ret_pidfd != NULL) gets a CLOEXEC pidfd. */
int gdn_spawn(const struct gdn_spawn_opts *o, pid_t *ret_pid, int *ret_pidfd, struct gdn_err **err);

/* The executable gdn_spawn would run for `file` with the current PATH: `file` itself when it
 * contains '/', else the first PATH entry holding an executable regular file of that name.
 * *ret is malloc'd; -ENOENT (with *err) when there is none. */
int gdn_which(const char *file, char **ret, struct gdn_err **err);

/* Waits for the child (pidfd if >= 0, else pid) and returns its status in shell form: exit code,
 * or 128+signal. */
int gdn_proc_wait(pid_t pid, int pidfd, int *ret_status, struct gdn_err **err);

/* gdn_run (lib/run.h) with stdout and stderr merged: collects them into *ret_output
 * (NUL-terminated, capped at 64 KiB; ret_output may be NULL; o->stdout_fd/stderr_fd are
 * ignored), without a deadline. Returns 0 with *ret_status set; -errno only if it could not be
 * started or waited for. */
int gdn_proc_run(const struct gdn_spawn_opts *o, int *ret_status, char **ret_output,
		 struct gdn_err **err);

/* What /proc/<pid>/stat says of a process (the fields after "(comm)", which may hold anything). */
struct gdn_proc_stat {
	char state; /* R, S, D, Z (zombie), X (dead), ... */
	pid_t ppid;
	unsigned long flags; /* PF_* (PF_EXITING: 0x4) */
};
/* 0, or -ENOENT when the process is gone, -EBADMSG when the file cannot be parsed. */
int gdn_proc_stat_read(pid_t pid, struct gdn_proc_stat *ret);

/* Decodes a waitid/waitpid status into the 128+signal form. */
int gdn_proc_status_code(int wstatus);

/* Reads a pidfile written by a runtime or a shim: a decimal pid (trailing whitespace allowed).
 * -ENOENT if missing, -EINVAL (with *err) if it holds no pid. */
int gdn_pidfile_read(const char *path, pid_t *ret_pid, struct gdn_err **err);

/* A CLOEXEC pidfd for the pid in `path`, pinning that process (it cannot be recycled while the
 * fd is open), or -errno. *ret_pid (may be NULL) gets the pid. Callers must still check that
 * the pinned process is the one they expect before signalling it. */
int gdn_pidfd_from_pidfile(const char *path, pid_t *ret_pid);
