/* See dadoo_launch.h. */
#include <errno.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/proc.h"
#include "cmd/guardian/dadoo_client.h"
#include "cmd/guardian/dadoo_launch.h"
#include "cmd/guardian/server.h"

/* --runtime R [--runtime-root D] [--runtime-timeout T] [--runtime-arg A]... [--cleanup-on-wait]
 * --standby, plus argv[0] and NULL */
#define ARGV_FIXED 10

/* A new standby dadoo; returns our end of its job socket. */
static int spawn_standby(const struct gd_config *cfg, struct gdn_err **err)
{
	const char *argv[ARGV_FIXED + 2 * GDN_RUNTIME_EXTRA_ARGS_MAX];
	char timeout[32];
	_cleanup_close_ int ours = -1, theirs = -1;
	size_t n = 0, extra = 0;
	int sv[2], r;

	if (!cfg->dadoo_bin)
		return gdn_err_kind(
		    err, GDN_ERR_GENERIC, ENOENT,
		    "no dadoo binary: install it beside guardian or pass --dadoo-bin");
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return gdn_err_set(err, errno, "socketpair");
	ours = sv[0];
	theirs = sv[1];
	argv[n++] = cfg->dadoo_bin;
	argv[n++] = "--runtime";
	argv[n++] = cfg->runtime;
	if (cfg->runtime_root) {
		argv[n++] = "--runtime-root";
		argv[n++] = cfg->runtime_root;
	}
	if (cfg->runtime_timeout_ns) {
		(void)snprintf(timeout, sizeof(timeout), "%lluns",
			       (unsigned long long)cfg->runtime_timeout_ns);
		argv[n++] = "--runtime-timeout";
		argv[n++] = timeout;
	}
	/* check_config refused more at start-up; the bound only keeps argv safe */
	for (const char **x = cfg->runtime_extra_args;
	     x && *x && extra < GDN_RUNTIME_EXTRA_ARGS_MAX; x++, extra++) {
		argv[n++] = "--runtime-arg";
		argv[n++] = *x;
	}
	if (cfg->cleanup_process_dirs)
		argv[n++] = "--cleanup-on-wait";
	argv[n++] = "--standby";
	argv[n] = NULL;
	{
		struct gdn_spawn_opts o = {
		    .path = cfg->dadoo_bin,
		    .argv = (char *const *)argv,
		    .stdin_fd = -1,
		    .stdout_fd = -1,
		    .stderr_fd = -1, /* until the job brings its log */
		    .extra_fds = &theirs,
		    .n_extra_fds = 1,
		    .setsid = true,
		    .detach = true,
		    .cwd = "/", /* it outlives guardian: keep no directory of ours busy */
		};
		if ((r = gdn_spawn(&o, NULL, NULL, err)) < 0)
			return gdn_err_wrap(err, "start dadoo");
	}
	return gdn_steal_fd(&ours);
}

static int assign(int sock, const struct gd_dadoo_job *j, int logfd, struct gdn_err **err)
{
	json_auto_t *job = gd_dadoo_request_new("start");

	if (job && json_object_update_new(job, json_pack("{s:s, s:s, s:b, s:I, s:I}", "dir",
							 j->procdir, "handle", j->handle, "tty",
							 j->tty, "uid", (json_int_t)j->uid, "gid",
							 (json_int_t)j->gid)) < 0)
		job = (json_decref(job), NULL);
	if (job && j->cgroup && json_object_set_new(job, "cgroup", json_string(j->cgroup)) < 0)
		job = (json_decref(job), NULL);
	if (!job)
		return gdn_err_set(err, ENOMEM, "dadoo job");
	return gdn_ipc_send(sock, job, &logfd, 1, err);
}

int gd_dadoo_launch(struct gd_server *s, const struct gd_dadoo_job *job, int logfd,
		    struct gdn_err **err)
{
	_cleanup_close_ int sock = gdn_steal_fd(&s->standby_fd);
	int r;

	if (sock >= 0) {
		_cleanup_err_ struct gdn_err *e = NULL;

		if (assign(sock, job, logfd, &e) >= 0)
			return gdn_steal_fd(&sock);
		/* it died while waiting (killed by someone): start another */
		gdn_log_info(s->log, "standby-dadoo-gone", "error", gdn_err_str(e), NULL);
		(void)close(gdn_steal_fd(&sock));
	}
	sock = spawn_standby(s->cfg, err);
	if (sock < 0)
		return sock;
	if ((r = assign(sock, job, logfd, err)) < 0)
		return gdn_err_wrap(err, "hand the process to dadoo");
	return gdn_steal_fd(&sock);
}

void gd_dadoo_standby_refill(struct gd_server *s)
{
	_cleanup_err_ struct gdn_err *e = NULL;

	if (s->standby_fd >= 0 || s->stopping || !s->cfg->dadoo_bin)
		return;
	s->standby_fd = spawn_standby(s->cfg, &e);
	if (s->standby_fd < 0)
		gdn_log_error(s->log, "standby-dadoo-failed", e, NULL);
}

void gd_dadoo_standby_release(struct gd_server *s)
{
	if (s->standby_fd >= 0)
		(void)close(gdn_steal_fd(&s->standby_fd));
}
