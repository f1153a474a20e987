/* Starting dadoos. Each dadoo is spawned detached (in its own session, reparented away from
 * guardian at once, so nothing of guardian has to reap it) with --standby, and receives its job
 * — process dir, handle, TTY and the fd of its log — on a SEQPACKET socket (its fd 3), on which
 * it then answers its start result. guardian keeps one such dadoo waiting, so that a Run does
 * not wait for an exec; a standby whose socket closes exits. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include "lib/err.h"

struct gd_server;

/* Gives the job to the standby dadoo (or, if none waits or it died, to a new one) and returns
 * the job socket, on which the start result line will arrive, or -errno. */
struct gd_dadoo_job {
	const char *procdir;
	const char *handle;
	bool tty;
	uid_t uid; /* host ids of the process's user: its stdio pipes are given to them */
	gid_t gid;
	const char *cgroup; /* the sub-cgroup of the container's that the exec joins, or NULL */
};
int gd_dadoo_launch(struct gd_server *s, const struct gd_dadoo_job *job, int logfd,
		    struct gdn_err **err);

/* Starts a standby if none waits. A failure is logged; Runs then start their own dadoo. The
 * loop calls it when idle (s->standby_wanted), and once at start-up. */
void gd_dadoo_standby_refill(struct gd_server *s);

/* Closes our end of the standby's socket (it exits). */
void gd_dadoo_standby_release(struct gd_server *s);
