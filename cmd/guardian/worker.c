/* Worker processes: guardian forks one per slow operation (create, destroy, stop). The child
 * runs the operation synchronously and writes one JSON line to a pipe — {} on success or
 * {"error":{"kind":K,"errno":N,"message":M,"handle":H}} — then exits. The loop watches the pipe
 * and the child's pidfd; when both are done, the worker's done() callback answers the client.
 * gd_worker_watch reuses the same bookkeeping for a starting dadoo's result line. */
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "lib/fs.h"
#include "lib/proc.h"
#include "cmd/guardian/server.h"

static void write_result(int fd, const struct gdn_err *e)
{
	json_auto_t *msg = NULL;

	if (e)
		msg = json_pack("{s:{s:i, s:i, s:s, s:s?}}", "error", "kind", (int)e->kind, "errno",
				e->errnum, "message", gdn_err_str(e), "handle", e->handle);
	else
		msg = json_object();
	(void)gdn_ipc_send(fd, msg, NULL, 0, NULL);
}

static struct gdn_err *result_err(json_t *result, int status)
{
	struct gdn_err *e = NULL;
	json_t *je;
	int kind = 0, errnum = 0;
	const char *msg = NULL, *handle = NULL;
	json_t *jh = NULL;

	if (!result) {
		gdn_err_set(&e, 0, "worker exited with status %d without a result", status);
		return e;
	}
	je = json_object_get(result, "error");
	if (!je)
		return NULL;
	if (json_unpack(je, "{s?i, s?i, s?s, s?o}", "kind", &kind, "errno", &errnum, "message",
			&msg, "handle", &jh) < 0 ||
	    !msg) {
		gdn_err_set(&e, 0, "worker sent a malformed result");
		return e;
	}
	handle = json_string_value(jh);
	if (kind == GDN_ERR_CONTAINER_NOT_FOUND && handle) {
		gdn_err_not_found(&e, handle);
		return e;
	}
	gdn_err_kind(&e, (enum gdn_err_kind)kind, errnum, "%s", msg);
	return e;
}

static void worker_free(struct gd_server *s, struct gd_worker *w)
{
	for (struct gd_worker **p = &s->workers; *p; p = &(*p)->next) {
		if (*p == w) {
			*p = w->next;
			break;
		}
	}
	if (w->pidfd >= 0) {
		(void)epoll_ctl(s->epfd, EPOLL_CTL_DEL, w->pidfd, NULL);
		(void)close(w->pidfd);
	}
	if (w->result_fd >= 0) {
		(void)epoll_ctl(s->epfd, EPOLL_CTL_DEL, w->result_fd, NULL);
		(void)close(w->result_fd);
	}
	gdn_lines_free(&w->lines);
	json_decref(w->result);
	if (w->free_data)
		w->free_data(w->data);
	free(w->handle);
	free(w);
}

static void maybe_finish(struct gd_server *s, struct gd_worker *w)
{
	_cleanup_err_ struct gdn_err *e = NULL;

	if (!w->exited || (w->result_fd >= 0 && !(w->watch && w->result)))
		return;
	if (w->result_fd >= 0)
		(void)epoll_ctl(s->epfd, EPOLL_CTL_DEL, w->result_fd, NULL);
	/* a watched line is not a worker's result: done() reads w->result itself */
	if (!w->watch)
		e = result_err(w->result, w->status);
	w->done(s, w, e);
	worker_free(s, w);
}

void gd_worker_on_pidfd(struct gd_server *s, struct gd_worker *w)
{
	(void)epoll_ctl(s->epfd, EPOLL_CTL_DEL, w->pidfd, NULL);
	(void)gdn_proc_wait(w->pid, w->pidfd, &w->status, NULL);
	w->exited = true;
	maybe_finish(s, w);
}

void gd_worker_on_pipe(struct gd_server *s, struct gd_worker *w)
{
	ssize_t n = gdn_lines_fill(&w->lines, w->result_fd);

	if (n == -EAGAIN || n == -EINTR)
		return;
	if (n > 0) {
		json_t *msg = NULL;
		if (!w->result && gdn_lines_next(&w->lines, &msg, NULL) == 1)
			w->result = msg;
		if (w->watch)
			maybe_finish(s, w);
		return;
	}
	(void)epoll_ctl(s->epfd, EPOLL_CTL_DEL, w->result_fd, NULL);
	(void)close(w->result_fd);
	w->result_fd = -1;
	if (!w->result) {
		json_t *msg = NULL;
		if (gdn_lines_next(&w->lines, &msg, NULL) == 1)
			w->result = msg;
	}
	maybe_finish(s, w);
}

/* In the child: run the operation and report. Never returns. */
static void __attribute__((noreturn))
worker_child(struct gd_server *s, pid_t guardian, struct gdn_log *parent, int fd,
	     const char *handle, gd_worker_fn fn, void *arg)
{
	_cleanup_err_ struct gdn_err *e = NULL;
	/* A child of the request's session, so its lines nest under the request's (e.g. "4.1"). */
	struct gdn_log *log =
	    gdn_log_session(parent, "worker", "handle", handle ? handle : "", NULL);
	sigset_t none;

	/* A worker must not outlive guardian: the depot lock is on an open file description that
	 * fork shares, and a worker left running would race the next guardian's start-up restore
	 * (which finishes or undoes what a killed worker left half-done). So it drops its copy of
	 * the lock and dies with guardian; if guardian is already gone, at once. */
	if (s->lock_fd >= 0)
		(void)close(s->lock_fd);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != guardian)
		_exit(1);

	/* The loop's fds are not ours to use; the signals the loop takes via signalfd must reach
	 * this child's default handlers (so `kill` of a stuck worker works). */
	(void)close(s->epfd);
	(void)close(s->sigfd);
	for (size_t i = 0; i < s->n_listeners; i++)
		(void)close(s->listeners[i].fd);
	/* Holding client sockets or other workers' pipes would delay their EOFs. */
	for (struct gd_conn *c = s->conns; c; c = c->next)
		(void)close(c->fd);
	for (struct gd_worker *w = s->workers; w; w = w->next) {
		(void)close(w->pidfd);
		(void)close(w->result_fd);
	}
	/* the standby dadoo must see EOF when guardian dies, whatever its workers do */
	(void)close(s->standby_fd);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	(void)signal(SIGPIPE, SIG_DFL);
	(void)signal(SIGCHLD, SIG_DFL);

	if (fn(s->cfg, arg, log, &e) < 0)
		write_result(fd, e);
	else
		write_result(fd, NULL);
	gdn_log_free(log);
	_exit(0);
}

static struct gd_worker *worker_new(const char *handle, void *arg, void (*free_arg)(void *))
{
	struct gd_worker *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->pidfd = -1;
	w->result_fd = -1;
	w->handle = handle ? strdup(handle) : NULL;
	w->data = arg;
	w->free_data = free_arg;
	w->w_pidfd.kind = GD_W_WORKER_PIDFD;
	w->w_pipe.kind = GD_W_WORKER_PIPE;
	return w;
}

int gd_worker_watch(struct gd_server *s, struct gd_conn *conn, const char *handle, int fd,
		    void *arg, void (*free_arg)(void *), gd_worker_done_fn done,
		    struct gdn_err **err)
{
	struct gd_worker *w = worker_new(handle, arg, free_arg);
	struct epoll_event ev;

	if (!w) {
		(void)close(fd);
		if (free_arg)
			free_arg(arg);
		return gdn_err_set(err, ENOMEM, "watch");
	}
	w->result_fd = fd;
	w->exited = true; /* no process of ours to wait for */
	w->watch = true;
	w->conn = conn;
	w->done = done;
	w->next = s->workers;
	s->workers = w;
	ev = (struct epoll_event){.events = EPOLLIN, .data.ptr = &w->w_pipe};
	if (gdn_fd_set_nonblock(fd, true) < 0 || epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int r = gdn_err_set(err, errno, "watch");

		w->done = NULL;
		worker_free(s, w);
		return r;
	}
	return 0;
}

int gd_worker_start(struct gd_server *s, struct gd_conn *conn, const char *handle, gd_worker_fn fn,
		    void *arg, void (*free_arg)(void *), gd_worker_done_fn done,
		    struct gdn_err **err)
{
	struct gd_worker *w;
	int p[2];
	pid_t pid, self = getpid();

	w = worker_new(handle, arg, free_arg);
	if (!w) {
		if (free_arg)
			free_arg(arg);
		return gdn_err_set(err, ENOMEM, "worker");
	}
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0) {
		int r = gdn_err_set(err, errno, "pipe2");
		worker_free(s, w);
		return r;
	}
	pid = fork();
	if (pid < 0) {
		int r = gdn_err_set(err, errno, "fork");
		(void)close(p[0]);
		(void)close(p[1]);
		worker_free(s, w);
		return r;
	}
	if (pid == 0) {
		(void)close(p[0]);
		/* The result is small; make the write end blocking so it is never short. */
		(void)fcntl(p[1], F_SETFL, 0);
		worker_child(s, self, conn && conn->log ? conn->log : s->log, p[1], handle, fn,
			     arg);
	}
	(void)close(p[1]);
	w->pid = pid;
	w->result_fd = p[0];
	w->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	w->conn = conn;
	w->done = done;
	w->next = s->workers;
	s->workers = w;
	if (w->pidfd < 0) {
		/* Without a pidfd we cannot watch it; wait now (rare: pidfd_open is in 5.3+). */
		(void)gdn_proc_wait(pid, -1, &w->status, NULL);
		w->exited = true;
	} else {
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &w->w_pidfd};
		(void)epoll_ctl(s->epfd, EPOLL_CTL_ADD, w->pidfd, &ev);
	}
	{
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &w->w_pipe};
		(void)epoll_ctl(s->epfd, EPOLL_CTL_ADD, w->result_fd, &ev);
	}
	return 0;
}
