/* A pea's rootfs, runtime container and cgroup go when it exits, as in Garden (its dadoo keeps
 * the exit status for Wait and Attach): the loop holds a pidfd of each running pea and starts a
 * cleanup worker when it becomes readable. At start-up every restored container's peas are
 * looked at again: running ones are watched, exited ones cleaned up. The peas of a container
 * being destroyed are destroy's (gd_pea_remove_all): a watch that fires then does nothing. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/syscall.h>

#include "lib/depot.h"
#include "lib/path.h"
#include "lib/util.h"
#include "cmd/guardian/container.h"
#include "cmd/guardian/pea.h"
#include "cmd/guardian/server.h"

struct pea_job {
	char *handle;
	char *procdir;
	bool all;
	struct gdn_err *reply; /* the error the waiting client gets once the pea is removed */
};

static void pea_job_free(void *p)
{
	struct pea_job *j = p;

	if (!j)
		return;
	free(j->handle);
	free(j->procdir);
	gdn_err_free(j->reply);
	free(j);
}

static int cleanup_run(const struct gd_config *cfg, void *arg, struct gdn_log *log,
		       struct gdn_err **err)
{
	const struct pea_job *j = arg;
	return gd_pea_remove(cfg, j->handle, j->procdir, j->all, log, err);
}

static void cleanup_done(struct gd_server *s, struct gd_worker *w, struct gdn_err *err)
{
	const struct pea_job *j = w->data;

	if (err)
		gdn_log_error(s->log, "pea-cleanup-failed", err, "handle", j->handle, "dir",
			      j->procdir, NULL);
	if (w->conn && j->reply)
		gd_reply_error(s, w->conn, j->reply);
}

void gd_pea_cleanup(struct gd_server *s, struct gd_conn *c, const char *handle, const char *procdir,
		    bool all, struct gdn_err *reply)
{
	_cleanup_err_ struct gdn_err *e = NULL, *answer = reply;
	const struct gd_ctr *ctr = gd_registry_find(&s->reg, handle);
	struct pea_job *j = NULL;
	bool answered_later = c && reply;

	/* a container being destroyed removes its peas itself */
	if (ctr && ctr->state != GD_CTR_DESTROYING) {
		j = calloc(1, sizeof(*j));
		if (!j || !(j->handle = strdup(handle)) || !(j->procdir = strdup(procdir))) {
			pea_job_free(j);
			j = NULL;
			gdn_log_info(s->log, "pea-cleanup-failed", "dir", procdir, NULL);
		}
	}
	if (j) {
		j->all = all;
		j->reply = gdn_steal_ptr(&answer);
		if (gd_worker_start(s, c, handle, cleanup_run, j, pea_job_free, cleanup_done, &e) >=
		    0)
			return;
		gdn_log_error(s->log, "pea-cleanup-failed", e, "dir", procdir, NULL);
		/* the job (and the answer) went with the failed start: say what we can */
		if (answered_later)
			gd_reply_error(s, c, e);
		return;
	}
	if (c && answer)
		gd_reply_error(s, c, answer);
}

struct gd_pea_watch {
	union {
		struct gdn_watch w;
		int fd;
	};
	struct gdn_defer defer;
	char *handle;
	char *procdir;
	struct gd_pea_watch *next;
};

static void watch_release(struct gdn_defer *d)
{
	struct gd_pea_watch *pw =
	    (struct gd_pea_watch *)((char *)d - offsetof(struct gd_pea_watch, defer));

	free(pw->handle);
	free(pw->procdir);
	free(pw);
}

static void watch_close(struct gd_server *s, struct gd_pea_watch *pw)
{
	for (struct gd_pea_watch **p = &s->pea_watches; *p; p = &(*p)->next) {
		if (*p == pw) {
			*p = pw->next;
			break;
		}
	}
	gdn_loop_close(&s->loop, &pw->w);
	gdn_loop_defer_free(&s->loop, &pw->defer);
}

static void on_pea_exit(struct gdn_loop *l, struct gdn_watch *w, uint32_t events)
{
	struct gd_server *s = gd_server_of(l);
	struct gd_pea_watch *pw = w->data;

	(void)events;
	gd_pea_cleanup(s, NULL, pw->handle, pw->procdir, false, NULL);
	watch_close(s, pw);
}

void gd_pea_watch(struct gd_server *s, const char *handle, const char *procdir, pid_t pid)
{
	struct gd_pea_watch *pw = calloc(1, sizeof(*pw));
	int fd = (int)syscall(SYS_pidfd_open, pid, 0); /* close-on-exec */

	if (fd < 0) {
		free(pw);
		if (errno == ESRCH)
			gd_pea_cleanup(s, NULL, handle, procdir, false, NULL); /* gone already */
		else
			gdn_log_info(s->log, "pea-watch-failed", "dir", procdir, NULL);
		return;
	}
	if (!pw || !(pw->handle = strdup(handle)) || !(pw->procdir = strdup(procdir))) {
		(void)close(fd);
		if (pw) {
			free(pw->handle);
			free(pw);
		}
		gdn_log_info(s->log, "pea-watch-failed", "dir", procdir, NULL);
		return;
	}
	gdn_watch_init(&pw->w, fd, on_pea_exit, pw);
	pw->defer.release = watch_release;
	if (gdn_loop_watch(&s->loop, &pw->w, EPOLLIN) < 0) {
		(void)close(fd);
		watch_release(&pw->defer);
		gdn_log_info(s->log, "pea-watch-failed", "dir", procdir, NULL);
		return;
	}
	pw->next = s->pea_watches;
	s->pea_watches = pw;
}

void gd_pea_restore(struct gd_server *s, const char *handle)
{
	_cleanup_free_ char *dir = gd_container_dir(s->cfg, handle);
	_cleanup_free_ char *procs = dir ? gdn_path_join(dir, GDN_DEPOT_PROCESSES) : NULL;
	_cleanup_closedir_ DIR *d = procs ? opendir(procs) : NULL;
	struct dirent *de;

	while (d && (de = readdir(d))) {
		_cleanup_free_ char *procdir = NULL, *pidfile = NULL;
		_cleanup_close_ int pidfd = -1;
		pid_t pid = 0;

		if (de->d_name[0] == '.')
			continue;
		procdir = gdn_path_join(procs, de->d_name);
		pidfile = procdir ? gdn_path_join(procdir, GDN_PROC_PIDFILE) : NULL;
		/* not a pea, or one cleaned up already; one whose prepare was cut short is not
		 * running and goes now */
		if (!pidfile || !gd_pea_is(procdir))
			continue;
		/* a pea runs below the sandbox's cgroup, garden/<handle>/<id>... */
		pidfd = gd_container_pidfd(pidfile, handle, &pid);
		if (pidfd < 0) {
			/* ...or in its own, garden/<handle>@<id> */
			char own[GD_PEA_CGROUP_MAX];
			gd_pea_cgroup(handle, de->d_name, true, own);
			pidfd = gd_container_pidfd(pidfile, own + strlen("garden/"), &pid);
		}
		if (pidfd >= 0)
			gd_pea_watch(s, handle, procdir, pid);
		else
			gd_pea_cleanup(s, NULL, handle, procdir, false, NULL);
	}
}
