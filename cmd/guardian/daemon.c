/* Starting and supervising the daemons guardian runs (daemon.h). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "lib/ipc.h"
#include "lib/proc.h"
#include "lib/util.h"
#include "cmd/guardian/daemon.h"
#include "cmd/guardian/server.h"

#define READY_WAIT_MS 10000
#define RESTART_DELAY_MS 1000

static void log_action(struct gd_daemon *d, char *buf, size_t size, const char *what)
{
	(void)snprintf(buf, size, "%s.%s", d->name, what);
}

static int spawn(struct gd_server *s, struct gd_daemon *d, struct gdn_err **err)
{
	struct gd_daemon_argv a = {.n = 0};
	char pid[16], action[64];

	if (!d->bin)
		return gdn_err_set(err, ENOENT, "%s", d->missing);
	d->build_argv(s->cfg, &a);
	a.v[a.n] = NULL;

	struct gdn_spawn_opts o = {
	    .path = d->bin,
	    .argv = (char *const *)a.v,
	    .stdin_fd = -1,
	    .stdout_fd = -1,
	    .stderr_fd = STDERR_FILENO,
	    .pdeathsig = SIGTERM,
	};
	int r = gdn_spawn(&o, &d->pid, &d->pidfd, err);
	if (r < 0)
		return gdn_err_wrap(err, "start %s", d->name);
	(void)gdn_loop_watch(&s->loop, &d->w, EPOLLIN);
	(void)snprintf(pid, sizeof(pid), "%d", (int)d->pid);
	log_action(d, action, sizeof(action), "started");
	gdn_log_info(s->log, action, "pid", pid, "socket", d->socket, NULL);
	return 0;
}

static void on_restart(struct gdn_loop *l, struct gdn_timer *t)
{
	struct gd_server *s = gd_server_of(l);
	struct gd_daemon *d = t->data;
	_cleanup_err_ struct gdn_err *e = NULL;
	char action[64];

	if (s->stopping)
		return;
	if (spawn(s, d, &e) < 0) {
		log_action(d, action, sizeof(action), "restart-failed");
		gdn_log_error(s->log, action, e, NULL);
		(void)gdn_loop_timer_in(l, &d->restart, RESTART_DELAY_MS);
	}
}

static void on_exit_(struct gdn_loop *l, struct gdn_watch *w, uint32_t events)
{
	struct gd_server *s = gd_server_of(l);
	struct gd_daemon *d = w->data;
	int status = 0;
	char code[16], action[64];

	(void)events;
	(void)gdn_proc_wait(d->pid, d->pidfd, &status, NULL);
	gdn_loop_close(l, &d->w);
	d->pid = 0;
	if (s->stopping)
		return;
	d->restarts++;
	(void)snprintf(code, sizeof(code), "%d", status);
	log_action(d, action, sizeof(action), "exited-restarting");
	gdn_log_info(s->log, action, "status", code, NULL);
	(void)gdn_loop_timer_in(l, &d->restart, RESTART_DELAY_MS);
}

static int wait_ready(struct gd_daemon *d, struct gdn_err **err)
{
	uint64_t until = gdn_now_mono_ns() + (uint64_t)READY_WAIT_MS * 1000000;

	for (;;) {
		_cleanup_err_ struct gdn_err *e = NULL;
		_cleanup_close_ int fd = gdn_ipc_connect(d->socket, SOCK_SEQPACKET, 0, &e);
		json_auto_t *req = gdn_ipc_request_new("ping", d->ping_v);
		if (fd >= 0 && req && gdn_ipc_call(fd, req, NULL, 0, 1000, NULL, &e) == 0)
			return 0;
		siginfo_t si = {0};
		if (d->pid > 0 &&
		    waitid(P_PID, (id_t)d->pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
		    si.si_pid == d->pid)
			return gdn_err_set(err, ESRCH,
					   "%s exited at start-up (status %d; see its log)",
					   d->name, si.si_status);
		if (gdn_now_mono_ns() >= until)
			return gdn_err_set(err, ETIMEDOUT,
					   "%s did not answer on '%s' within %d s: %s", d->name,
					   d->socket, READY_WAIT_MS / 1000, gdn_err_str(e));
		struct timespec ts = {0, 20 * 1000 * 1000};
		(void)nanosleep(&ts, NULL);
	}
}

void gd_daemon_init(struct gd_server *s, struct gd_daemon *d)
{
	d->srv = s;
	d->pid = 0;
	gdn_watch_init(&d->w, -1, on_exit_, d);
	gdn_timer_init(&d->restart, on_restart, d);
}

int gd_daemon_start(struct gd_server *s, struct gd_daemon *d, bool run_own, struct gdn_err **err)
{
	d->wanted = run_own;
	if (d->wanted) {
		int r = spawn(s, d, err);
		if (r < 0)
			return r;
	}
	return wait_ready(d, err);
}

void gd_daemon_stop(struct gd_server *s, struct gd_daemon *d)
{
	int status;

	gdn_loop_timer_cancel(&s->loop, &d->restart);
	if (d->pid <= 0)
		return;
	(void)kill(d->pid, SIGTERM);
	(void)gdn_proc_wait(d->pid, d->pidfd, &status, NULL);
	gdn_loop_close(&s->loop, &d->w);
	d->pid = 0;
}
