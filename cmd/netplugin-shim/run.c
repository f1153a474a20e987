/* One plugin run of the server: `<plugin> <plugin args...> --action A --handle H`, stdin a
 * sealed copy of the request's text (a memfd: nothing to feed), the network namespace (or
 * /dev/null) as fd 3, stdout and stderr pipes read as they fill, its own process group (killed
 * as a whole at the deadline). It ends when its pidfd says it exited; what it left in the
 * pipes is read then, but a grandchild holding them open is not waited for. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/mman.h>

#include "lib/fs.h"
#include "lib/ipc.h"
#include "lib/util.h"
#include "cmd/netplugin-shim/serve.h"

/* A stderr line longer than this is re-logged in pieces (as lib/run does). */
#define LINE_MAX_BYTES (64 * 1024)

static void run_release(struct gdn_defer *d)
{
	struct nps_run *r = (struct nps_run *)((char *)d - offsetof(struct nps_run, defer));

	gdn_buf_free(&r->stdout_buf);
	gdn_buf_free(&r->line);
	gdn_buf_free(&r->last_line);
	free(r->action);
	gdn_log_free(r->log);
	free(r);
}

/* Stops watching, kills the child if it is still ours, and frees r at the end of the round
 * (events of this round may still point at its watches). */
static void run_free(struct nps_run *r)
{
	struct gdn_loop *l = &r->srv->loop;

	(void)gdn_loop_release_fd(l, &r->exited); /* the child owns the pidfd */
	gdn_loop_close(l, &r->out);
	gdn_loop_close(l, &r->err);
	gdn_loop_timer_cancel(l, &r->deadline);
	gdn_child_kill(&r->child);
	gdn_loop_defer_free(l, &r->defer);
}

void nps_run_abandon(struct nps_run *r)
{
	run_free(r);
}

/* A complete stderr line (n bytes, its '\n' included): re-logged, and kept if not blank. */
static void take_line(struct nps_run *r, const char *p, size_t n)
{
	size_t start = 0, end = n;

	gdn_run_relog_line(r->log, p, n);
	while (start < end && (p[start] == ' ' || p[start] == '\t'))
		start++;
	while (end > start && strchr(" \t\r\n", p[end - 1]))
		end--;
	if (end == start)
		return;
	if (end - start > NPS_ERR_LINE_MAX)
		end = start + NPS_ERR_LINE_MAX;
	gdn_buf_reset(&r->last_line);
	if (gdn_buf_append(&r->last_line, p + start, end - start) < 0)
		gdn_buf_reset(&r->last_line);
}

static void take_stderr(struct nps_run *r, const char *data, size_t n, bool flush)
{
	if (n > 0 && gdn_buf_append(&r->line, data, n) < 0) {
		gdn_buf_reset(&r->line);
		return;
	}
	while (r->line.len > 0) {
		char *nl = memchr(r->line.data, '\n', r->line.len);
		size_t len;

		if (nl)
			len = (size_t)(nl - r->line.data) + 1;
		else if (r->line.len >= LINE_MAX_BYTES || flush)
			len = r->line.len;
		else
			return;
		take_line(r, r->line.data, len);
		gdn_buf_consume(&r->line, len);
	}
}

static void take_stdout(struct nps_run *r, const char *data, size_t n)
{
	size_t room = NPS_OUTPUT_MAX - r->stdout_buf.len;

	if (n > room) {
		r->stdout_over = true;
		n = room;
	}
	if (n > 0 && gdn_buf_append(&r->stdout_buf, data, n) < 0)
		r->stdout_over = true;
}

/* Reads what the pipe holds; closes it at EOF or on an error. */
static void read_pipe(struct nps_run *r, struct gdn_watch *w)
{
	char chunk[16384];

	while (w->fd >= 0) {
		ssize_t n = read(w->fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			gdn_loop_close(&r->srv->loop, w);
			return;
		}
		if (w == &r->out)
			take_stdout(r, chunk, (size_t)n);
		else
			take_stderr(r, chunk, (size_t)n, false);
	}
}

static void on_pipe(struct gdn_loop *l, struct gdn_watch *w, uint32_t events)
{
	(void)l;
	(void)events;
	read_pipe(w->data, w);
}

/* The error message names the action like Garden's own, and ends with the plugin's last word. */
static int run_err(struct nps_run *r, struct gdn_err **err, int errnum, const char *what)
{
	const char *last = r->last_line.data;
	json_auto_t *probe = last ? json_stringn(last, r->last_line.len) : NULL;

	/* an error message is JSON text: bytes that are not UTF-8 cannot go into it */
	if (last && !probe)
		for (size_t i = 0; i < r->last_line.len; i++)
			if ((unsigned char)r->last_line.data[i] >= 0x80)
				r->last_line.data[i] = '?';
	return gdn_err_kind(err, GDN_ERR_GENERIC, errnum,
			    "external networker encountered an error running '%s' action: %s%s%s",
			    r->action, what, last ? ": " : "", last ? last : "");
}

/* Replies, logs, hands the connection back and frees the run. */
static void finish(struct nps_run *r, int status, bool timed_out)
{
	_cleanup_err_ struct gdn_err *e = NULL, *send_err = NULL;
	json_auto_t *result = NULL;
	char what[160], code[16];
	bool sent;

	read_pipe(r, &r->out);
	read_pipe(r, &r->err);
	take_stderr(r, NULL, 0, true);
	if (timed_out) {
		(void)snprintf(what, sizeof(what), "'%s' did not exit within %s: killed",
			       r->srv->opts->plugin_path, r->srv->opts->timeout_text);
		(void)run_err(r, &e, ETIMEDOUT, what);
	} else if (status != 0) {
		(void)snprintf(what, sizeof(what), "exit status %d", status);
		(void)run_err(r, &e, 0, what);
	} else if (r->stdout_over) {
		(void)snprintf(what, sizeof(what), "its stdout exceeds %d bytes", NPS_OUTPUT_MAX);
		(void)run_err(r, &e, EMSGSIZE, what);
	} else {
		json_t *out =
		    json_stringn(r->stdout_buf.data ? r->stdout_buf.data : "", r->stdout_buf.len);

		result = out ? json_pack("{s:o}", "stdout", out) : NULL;
		if (!result)
			(void)run_err(r, &e, EILSEQ, "its stdout is not UTF-8");
	}
	(void)snprintf(code, sizeof(code), "%d", timed_out ? 137 : status);
	if (e)
		gdn_log_error(r->log, "failed", e, "exit_status", code, NULL);
	else
		gdn_log_info(r->log, "finished", "exit_status", code, NULL);
	sent = gdn_ipc_reply(r->conn->w.fd, NPS_PROTO_VERSION, result, e, &send_err) >= 0;
	if (!sent)
		gdn_log_error(r->log, "reply-failed", send_err, NULL);
	nps_conn_done(r->srv, r->conn, sent);
	run_free(r);
}

static void on_exited(struct gdn_loop *l, struct gdn_watch *w, uint32_t events)
{
	_cleanup_err_ struct gdn_err *e = NULL;
	struct nps_run *r = w->data;
	int status = 0;

	(void)events;
	(void)gdn_loop_release_fd(l, &r->exited);
	if (gdn_child_wait(&r->child, 0, &status, &e) < 0) {
		gdn_log_error(r->log, "wait-failed", e, NULL);
		status = 255;
	}
	finish(r, status, false);
}

static void on_deadline(struct gdn_loop *l, struct gdn_timer *t)
{
	struct nps_run *r = t->data;

	(void)gdn_loop_release_fd(l, &r->exited);
	gdn_child_kill(&r->child); /* its process group with it */
	finish(r, 137, true);
}

static int open_pipe(int *ret_r, int *ret_w, struct gdn_err **err)
{
	int p[2];

	if (pipe2(p, O_CLOEXEC) < 0)
		return gdn_err_set(err, errno, "pipe");
	*ret_r = p[0];
	*ret_w = p[1];
	return gdn_fd_set_nonblock(p[0], true) < 0 ? gdn_err_set(err, errno, "O_NONBLOCK") : 0;
}

/* stdin as a sealed memfd: the plugin reads it at its pace and we never block writing. */
static int stdin_file(const struct nps_request *req, struct gdn_err **err)
{
	_cleanup_close_ int fd = memfd_create("plugin-stdin", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0)
		return gdn_err_set(err, errno, "memfd_create");
	if (gdn_fd_write_all(fd, req->stdin_text, req->stdin_len) < 0)
		return gdn_err_set(err, errno, "write the plugin's stdin");
	if (lseek(fd, 0, SEEK_SET) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) < 0)
		return gdn_err_set(err, errno, "seal the plugin's stdin");
	return gdn_steal_fd(&fd);
}

static int spawn(struct nps_run *r, const struct nps_request *req, int ns, int in, int out_w,
		 int err_w, struct gdn_err **err)
{
	const struct nps_serve_opts *o = r->srv->opts;
	_cleanup_free_ const char **argv = NULL;
	size_t n = 0, n_args = 0;

	while (o->plugin_args && o->plugin_args[n_args])
		n_args++;
	argv = calloc(n_args + 6, sizeof(*argv));
	if (!argv)
		return gdn_err_set(err, ENOMEM, "argv");
	argv[n++] = o->plugin_path;
	for (size_t i = 0; i < n_args; i++)
		argv[n++] = o->plugin_args[i];
	argv[n++] = "--action";
	argv[n++] = req->action;
	argv[n++] = "--handle";
	argv[n++] = req->handle;
	{
		const struct gdn_spawn_opts so = {
		    .path = o->plugin_path,
		    .argv = (char *const *)argv,
		    .stdin_fd = in,
		    .stdout_fd = out_w,
		    .stderr_fd = err_w,
		    .extra_fds = &ns,
		    .n_extra_fds = 1,
		    .setsid = true,
		};

		return gdn_child_spawn(&r->child, &so, err);
	}
}

int nps_run_start(struct nps_server *s, struct nps_conn *c, const struct nps_request *req,
		  int ns_fd, struct gdn_err **err)
{
	_cleanup_close_ int ns = ns_fd, in = -1, out_r = -1, out_w = -1, err_r = -1, err_w = -1;
	struct nps_run *r = calloc(1, sizeof(*r));
	char pid[16];
	int ret;

	if (!r)
		return gdn_err_set(err, ENOMEM, "run");
	r->srv = s;
	r->conn = c;
	r->v = req->v;
	r->child = (struct gdn_child)GDN_CHILD_INIT;
	r->defer.release = run_release;
	gdn_watch_init(&r->exited, -1, on_exited, r);
	gdn_watch_init(&r->out, -1, on_pipe, r);
	gdn_watch_init(&r->err, -1, on_pipe, r);
	gdn_timer_init(&r->deadline, on_deadline, r);
	r->action = strdup(req->action);
	r->log = gdn_log_session(s->log, "run", "handle", req->handle, "action", req->action, NULL);
	if (!r->action || !r->log) {
		run_release(&r->defer);
		return gdn_err_set(err, ENOMEM, "run");
	}
	if (ns < 0 && (ns = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0)
		ret = gdn_err_set(err, errno, "open /dev/null");
	else if ((in = stdin_file(req, err)) < 0)
		ret = in;
	else if ((ret = open_pipe(&out_r, &out_w, err)) >= 0 &&
		 (ret = open_pipe(&err_r, &err_w, err)) >= 0)
		ret = spawn(r, req, ns, in, out_w, err_w, err);
	if (ret < 0) {
		_cleanup_err_ struct gdn_err *e = err ? gdn_steal_ptr(err) : NULL;

		(void)run_err(r, err, e ? e->errnum : 0, gdn_err_str(e));
		gdn_log_error(r->log, "start-failed", err ? *err : NULL, NULL);
		run_release(&r->defer);
		return ret;
	}
	r->out.fd = gdn_steal_fd(&out_r);
	r->err.fd = gdn_steal_fd(&err_r);
	r->exited.fd = r->child.pidfd;
	(void)snprintf(pid, sizeof(pid), "%d", (int)r->child.pid);
	gdn_log_info(r->log, "started", "pid", pid, NULL);
	c->run = r;
	if ((ret = gdn_loop_watch(&s->loop, &r->exited, EPOLLIN)) < 0 ||
	    (ret = gdn_loop_watch(&s->loop, &r->out, EPOLLIN)) < 0 ||
	    (ret = gdn_loop_watch(&s->loop, &r->err, EPOLLIN)) < 0 ||
	    (ret = gdn_loop_timer_at(&s->loop, &r->deadline,
				     gdn_now_mono_ns() + s->opts->timeout_ns)) < 0) {
		c->run = NULL;
		(void)gdn_err_set(err, -ret, "watch the plugin");
		run_free(r);
		return ret;
	}
	return 0;
}
