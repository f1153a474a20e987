/* Worker processes: guardian forks one per slow operation (create, destroy, stop). The child
 * runs the operation synchronously and writes one JSON line to a pipe — {"ok":true} on
 * success or {"error":{"type":T,"message":M,...}} (garden-ipc(5)) — then exits. The loop watches
 * the pipe and the child's pidfd; when both are done, the worker's done() callback answers the
 * client. gd_worker_watch reuses the same bookkeeping for a starting dadoo's result line. */
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <stddef.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "lib/fs.h"
#include "lib/proc.h"
#include "cmd/guardian/server.h"

/* In a worker process: the members its {"ok":true} carries besides ok. */
static json_t *child_result;

void gd_worker_set_result(json_t *members)
{
	json_decref(child_result);
	child_result = members;
}

/* {"ok":true,...} or {"error":{...}} (lib/errwire.h), one line: written whole rather than by
 * gdn_ipc_send, since a result (BulkMetrics of many containers) may exceed an IPC line. */
static void write_result(int fd, const struct gdn_err *e)
{
	json_auto_t *msg = e ? gdn_ipc_error_new(e, -1) : gdn_ipc_ok_new(-1);
	_cleanup_free_ char *line = NULL;
	size_t len = 0;

	if (!e && msg && child_result)
		(void)json_object_update(msg, child_result);
	line = msg ? gdn_ipc_encode(msg, &len) : NULL;
	if (line && len - 1 > GD_WORKER_MAX_RESULT) {
		_cleanup_err_ struct gdn_err *big = NULL;
		gdn_err_set(&big, EMSGSIZE, "the result of %zu bytes is over %d", len - 1,
			    GD_WORKER_MAX_RESULT);
		json_decref(msg);
		msg = gdn_ipc_error_new(big, -1);
		free(line);
		line = msg ? gdn_ipc_encode(msg, &len) : NULL;
	}
	if (line)
		(void)gdn_fd_write_all(fd, line, len);
}

static struct gdn_err *result_err(json_t *result, int status)
{
	struct gdn_err *e = NULL;

	if (!result) {
		gdn_err_set(&e, 0, "worker exited with status %d without a result", status);
		return e;
	}
	if (gdn_ipc_reply_parse(result, NULL, &e) == 0)
		return NULL;
	/* as before the envelope: a ContainerNotFoundError reaches the client as Garden's own
	 * "unknown handle: <h>", whatever context the worker added */
	if (e && e->kind == GDN_ERR_CONTAINER_NOT_FOUND && e->handle && *e->handle) {
		struct gdn_err *nf = NULL;

		gdn_err_not_found(&nf, e->handle);
		gdn_err_free(e);
		return nf;
	}
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
	gdn_loop_timer_cancel(&s->loop, &w->deadline);
	gdn_loop_close(&s->loop, &w->w_pidfd);
	gdn_loop_close(&s->loop, &w->w_pipe);
	gdn_loop_defer_free(&s->loop, &w->defer);
}

static void worker_release(struct gdn_defer *d)
{
	struct gd_worker *w = (struct gd_worker *)((char *)d - offsetof(struct gd_worker, defer));

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
	(void)gdn_loop_watch(&s->loop, &w->w_pipe, 0);
	/* a watched line is not a worker's result: done() reads w->result itself */
	if (!w->watch)
		e = result_err(w->result, w->status);
	w->done(s, w, e);
	worker_free(s, w);
}

/* A watched line that did not come in time: done() hears so, and the line is not waited for. */
static void on_deadline(struct gdn_loop *l, struct gdn_timer *t)
{
	struct gd_server *s = gd_server_of(l);
	struct gd_worker *w = t->data;
	_cleanup_err_ struct gdn_err *e = NULL;

	(void)gdn_err_kind(&e, GDN_ERR_GENERIC, ETIMEDOUT, "no answer within %llu ms",
			   (unsigned long long)(w->timeout_ns / 1000000));
	(void)gdn_loop_watch(l, &w->w_pipe, 0);
	w->done(s, w, e);
	worker_free(s, w);
}

static void on_pidfd(struct gdn_loop *l, struct gdn_watch *watch, uint32_t events)
{
	struct gd_server *s = gd_server_of(l);
	struct gd_worker *w = watch->data;

	(void)events;
	(void)gdn_loop_watch(l, &w->w_pidfd, 0);
	(void)gdn_proc_wait(w->pid, w->pidfd, &w->status, NULL);
	w->exited = true;
	maybe_finish(s, w);
}

static void on_pipe(struct gdn_loop *l, struct gdn_watch *watch, uint32_t events)
{
	struct gd_server *s = gd_server_of(l);
	struct gd_worker *w = watch->data;
	ssize_t n = gdn_lines_fill(&w->lines, w->result_fd);

	(void)events;
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
	gdn_loop_close(l, &w->w_pipe);
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
	(void)close(s->loop.epfd);
	(void)close(s->loop.sig.fd);
	for (size_t i = 0; i < s->n_listeners; i++)
		(void)close(s->listeners[i].fd);
	/* Holding client sockets or other workers' pipes would delay their EOFs. */
	for (struct gd_conn *c = s->conns; c; c = c->next)
		(void)close(c->fd);
	for (struct gd_worker *w = s->workers; w; w = w->next) {
		(void)close(w->pidfd);
		(void)close(w->result_fd);
	}
	(void)close(s->kawasaki.pidfd);
	(void)close(s->image_shim.pidfd);
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
	gdn_watch_init(&w->w_pidfd, -1, on_pidfd, w);
	gdn_watch_init(&w->w_pipe, -1, on_pipe, w);
	w->defer.release = worker_release;
	gdn_timer_init(&w->deadline, on_deadline, w);
	w->handle = handle ? strdup(handle) : NULL;
	w->data = arg;
	w->free_data = free_arg;
	return w;
}

int gd_worker_watch(struct gd_server *s, struct gd_conn *conn, const char *handle, int fd,
		    uint64_t timeout_ns, void *arg, void (*free_arg)(void *),
		    gd_worker_done_fn done, struct gdn_err **err)
{
	struct gd_worker *w = worker_new(handle, arg, free_arg);
	int r;

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
	w->timeout_ns = timeout_ns;
	r = gdn_fd_set_nonblock(fd, true);
	if (r >= 0)
		r = gdn_loop_watch(&s->loop, &w->w_pipe, EPOLLIN);
	if (r >= 0 && timeout_ns)
		r = gdn_loop_timer_at(&s->loop, &w->deadline, gdn_loop_now(&s->loop) + timeout_ns);
	if (r < 0) {
		r = gdn_err_set(err, -r, "watch");
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
	w->lines.max = GD_WORKER_MAX_RESULT;
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
		(void)gdn_loop_watch(&s->loop, &w->w_pidfd, EPOLLIN);
	}
	(void)gdn_loop_watch(&s->loop, &w->w_pipe, EPOLLIN);
	return 0;
}
