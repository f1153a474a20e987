/* Attachments: a client's hijacked control connection (NDJSON ProcessPayloads both ways) and its
 * stdout/stderr stream connections (raw bytes), handed over by guardian (docs/PROCESSES.md).
 *
 * An attachment is active while its control connection is open and the process has not
 * finished: it gets output and its payloads are carried out. It ends when the control
 * connection does (the process keeps running, stdin stays open) or when the exit status has been
 * sent; its streams are then closed once they have written what they hold, and a stream that
 * never connected keeps its buffer for DD_STREAM_RETAIN_NS. */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include "lib/fs.h"
#include "lib/http.h"
#include "lib/util.h"
#include "cmd/dadoo/dadoo.h"

#define STREAM_CONTENT_TYPE "text/plain; charset=utf-8"
#define DRAIN_MAX (64 << 10)

static void close_fd(int *fd)
{
	if (*fd >= 0)
		(void)close(gdn_steal_fd(fd));
}

static void stream_close(struct dd_state *s, struct dd_attach *a, int i)
{
	struct dd_stream *st = &a->out[i];

	uint64_t lost = st->dropped + st->pend.len;

	if (st->state == DD_STREAM_CLOSED)
		return;
	if (lost > 0) {
		char n[32];

		(void)snprintf(n, sizeof(n), "%llu", (unsigned long long)lost);
		gdn_log_info(a->log, "output-dropped", "source", i == DD_SRC_STDOUT ? "1" : "2",
			     "bytes", n, NULL);
	}
	dd_watch_close(s, &st->w);
	gdn_buf_free(&st->pend);
	st->state = DD_STREAM_CLOSED;
}

/* Reads what the client sent (nothing is expected) so that closing sends no RST, then closes. */
static void drain_and_close(struct dd_state *s, struct gdn_watch *w)
{
	char tmp[4096];
	size_t total = 0;

	if (w->fd < 0)
		return;
	(void)shutdown(w->fd, SHUT_WR);
	while (total < DRAIN_MAX) {
		ssize_t n = recv(w->fd, tmp, sizeof(tmp), MSG_DONTWAIT);

		if (n <= 0)
			break;
		total += (size_t)n;
	}
	dd_watch_close(s, w);
}

static void ctl_close(struct dd_state *s, struct dd_attach *a)
{
	drain_and_close(s, &a->ctl);
	close_fd(&a->lease_fd);
	gdn_buf_free(&a->ctl_out);
	gdn_lines_free(&a->ctl_in);
}

/* Output this attachment kept for a stream that never connected (e.g. `gaol run` without -a,
 * which only wanted the process id) goes back to the pool for the next attachment when no other
 * attachment is there to have seen it: output nobody read is not lost. */
static void hand_back_unread(struct dd_state *s, struct dd_attach *a)
{
	for (const struct dd_attach *o = s->attaches; o; o = o->next)
		if (o != a && o->active)
			return;
	for (int i = 0; i < DD_NSRC; i++) {
		struct dd_stream *st = &a->out[i];
		struct gdn_buf *u = &s->src[i].unattached;

		if (st->state != DD_STREAM_WAITING || st->pend.len == 0)
			continue;
		if (gdn_buf_append(u, st->pend.data, st->pend.len) < 0)
			continue;
		gdn_buf_free(&st->pend);
	}
}

/* client_gone: the control connection ended before the process did, so a stream that has not
 * connected by now will not (the Go client keeps control open until the exit payload). When
 * the process finished instead, its streams may still be on their way and keep their output. */
static void attach_end(struct dd_state *s, struct dd_attach *a, const char *why, bool client_gone)
{
	if (!a->active)
		return;
	a->active = false;
	a->ended_at = gdn_now_mono_ns();
	if (client_gone)
		hand_back_unread(s, a);
	gdn_buf_free(&a->stdin_pend);
	gdn_log_info(a->log, "detached", "reason", why, NULL);
	if (!a->closing)
		ctl_close(s, a);
}

static void attach_free(struct dd_state *s, struct dd_attach *a)
{
	for (int i = 0; i < DD_NSRC; i++)
		stream_close(s, a, i);
	ctl_close(s, a);
	gdn_buf_free(&a->stdin_pend);
	gdn_log_free(a->log);
	free(a->process_id);
	free(a->stream_id);
	free(a);
}

static void ctl_flush(struct dd_state *s, struct dd_attach *a)
{
	while (a->ctl.fd >= 0 && a->ctl_out.len > 0) {
		ssize_t n = send(a->ctl.fd, a->ctl_out.data, a->ctl_out.len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0) {
			if (a->active)
				attach_end(s, a, "control connection failed", true);
			ctl_close(s, a);
			return;
		}
		gdn_buf_consume(&a->ctl_out, (size_t)n);
	}
	if (a->ctl.fd >= 0 && a->closing) {
		if (a->exit_queued && !s->delivered) {
			s->delivered = true;
			gdn_log_info(a->log, "exit-status-delivered", NULL);
		}
		ctl_close(s, a);
	}
}

static void apply(struct dd_state *s, struct dd_attach *a, const json_t *msg)
{
	struct dd_payload p;
	int r;

	dd_payload_parse(msg, &p);
	switch (p.kind) {
	case DD_P_STDIN:
		dd_stdin_write(s, a, p.data, p.len);
		break;
	case DD_P_STDIN_EOF:
		dd_stdin_close(s, a);
		break;
	case DD_P_SIGNAL:
		if (p.signal)
			dd_signal_process(s, p.signal);
		else
			gdn_log_info(a->log, "unknown-signal-ignored", NULL);
		break;
	case DD_P_RESIZE:
		if (!s->tty || s->master < 0)
			break;
		r = dd_tty_resize(s->master, p.columns, p.rows);
		if (r < 0) {
			_cleanup_err_ struct gdn_err *err = NULL;

			(void)gdn_err_set(&err, -r, "set the window size");
			gdn_log_error(a->log, "resize-failed", err, NULL);
		}
		break;
	default:
		gdn_log_info(a->log, "payload-ignored", NULL);
		break;
	}
}

/* Carries out buffered payloads until one leaves stdin data pending. */
static void ctl_process(struct dd_state *s, struct dd_attach *a)
{
	while (a->active && a->stdin_pend.len == 0) {
		_cleanup_err_ struct gdn_err *err = NULL;
		json_t *msg = NULL;
		int r = dd_payload_next(&a->ctl_in, &msg, &err);

		if (r < 0) {
			gdn_log_error(a->log, "bad-payload", err, NULL);
			attach_end(s, a, "bad payload", true);
			return;
		}
		if (r == 0)
			break;
		apply(s, a, msg);
		json_decref(msg);
	}
	if (a->active && a->stdin_pend.len == 0 && a->ctl_in.eof)
		attach_end(s, a, "control connection closed", true);
}

static void ctl_read(struct dd_state *s, struct dd_attach *a)
{
	ssize_t n = gdn_lines_fill(&a->ctl_in, a->ctl.fd);

	if (n == -EAGAIN)
		return;
	if (n < 0) {
		_cleanup_err_ struct gdn_err *err = NULL;

		(void)gdn_err_set(&err, (int)-n, "read the control connection");
		gdn_log_info(a->log, "control-failed", "error", gdn_err_str(err), NULL);
		attach_end(s, a, "control connection failed", true);
		return;
	}
	ctl_process(s, a);
}

void dd_attach_on_control(struct dd_state *s, struct dd_attach *a, uint32_t events)
{
	if (a->ctl.fd < 0)
		return;
	if (events & EPOLLOUT)
		ctl_flush(s, a);
	if (a->ctl.fd >= 0 && a->active && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		ctl_read(s, a);
	else if (a->ctl.fd >= 0 && (events & (EPOLLHUP | EPOLLERR)))
		ctl_close(s, a); /* only the exit status was left to write, and nobody reads it */
}

static struct dd_attach *attach_alloc(struct dd_state *s, const struct dd_request *req, int *fds,
				      size_t nfds)
{
	struct dd_attach *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	gdn_watch_init(&a->ctl, gdn_steal_fd(&fds[0]), dd_on_control, a);
	a->lease_fd = nfds > 1 ? gdn_steal_fd(&fds[1]) : -1;
	for (int i = 0; i < DD_NSRC; i++) {
		gdn_watch_init(&a->out[i].w, -1, dd_on_stream, a);
		a->out[i].state = DD_STREAM_WAITING;
	}
	a->process_id = strdup(req->process_id ? req->process_id : s->process_id);
	a->stream_id = strdup(req->stream_id);
	a->log = gdn_log_session(s->log, "attach", "stream_id", req->stream_id, NULL);
	a->started_at = gdn_now_mono_ns();
	if (!a->process_id || !a->stream_id) {
		attach_free(s, a);
		return NULL;
	}
	return a;
}

int dd_attach_new(struct dd_state *s, const struct dd_request *req, int *fds, size_t nfds,
		  struct dd_attach **ret, struct gdn_err **err)
{
	struct dd_attach *a = NULL;
	int r;

	for (size_t i = 2; i < nfds; i++)
		close_fd(&fds[i]);
	if (nfds < 1)
		return gdn_err_set(err, EINVAL, "attach: no control connection");
	a = attach_alloc(s, req, fds, nfds);
	if (!a) {
		for (size_t i = 0; i < nfds && i < 2; i++)
			close_fd(&fds[i]);
		return gdn_err_set(err, ENOMEM, "attach");
	}
	r = gdn_fd_set_nonblock(a->ctl.fd, true);
	if (r >= 0)
		r = gdn_http_write_hijack_head(&a->ctl_out, req->status, "application/json");
	if (r >= 0)
		r = dd_payload_first(&a->ctl_out, a->process_id, a->stream_id);
	if (r >= 0 && req->pending_len > 0)
		r = gdn_buf_append(&a->ctl_in.buf, req->pending, req->pending_len);
	if (r < 0) {
		attach_free(s, a);
		return gdn_err_set(err, -r, "attach");
	}
	a->next = s->attaches;
	s->attaches = a;
	dd_adopt_unattached(s, a);
	gdn_log_info(a->log, "attached", NULL);
	if (s->finished) {
		a->ended_at = a->started_at;
		a->closing = true;
		a->exit_queued = dd_payload_exit(&a->ctl_out, a->process_id, s->status) >= 0;
	} else {
		a->active = true;
	}
	*ret = a;
	return 0;
}

void dd_attach_begin(struct dd_state *s, struct dd_attach *a)
{
	ctl_flush(s, a);
	if (a->active)
		ctl_process(s, a); /* what guardian read past the request */
}

static void stream_flush(struct dd_state *s, struct dd_attach *a, int i)
{
	struct dd_stream *st = &a->out[i];

	while (st->state == DD_STREAM_OPEN && st->pend.len > 0) {
		ssize_t n = send(st->w.fd, st->pend.data, st->pend.len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0) {
			gdn_log_info(a->log, "stream-failed", "error", strerror(errno), NULL);
			stream_close(s, a, i);
			return;
		}
		gdn_buf_consume(&st->pend, (size_t)n);
		st->progress_at = gdn_now_mono_ns();
	}
	dd_buf_trim(&st->pend);
}

static struct dd_attach *find(struct dd_state *s, const char *stream_id)
{
	for (struct dd_attach *a = s->attaches; a; a = a->next)
		if (strcmp(a->stream_id, stream_id) == 0)
			return a; /* newest first: an id reused after a guardian restart wins */
	return NULL;
}

void dd_attach_stream(struct dd_state *s, const struct dd_request *req, int conn)
{
	_cleanup_buf_ struct gdn_buf head = {0};
	_cleanup_close_ int fd = conn;
	struct dd_attach *a = find(s, req->stream_id);
	int i = req->source == 2 ? DD_SRC_STDERR : DD_SRC_STDOUT;
	struct dd_stream *st = a ? &a->out[i] : NULL;

	if (gdn_fd_set_nonblock(fd, true) < 0 ||
	    gdn_http_write_hijack_head(&head, 200, STREAM_CONTENT_TYPE) < 0)
		return;
	if (!st || st->state != DD_STREAM_WAITING) {
		/* unknown or finished: the head, then EOF (as Garden's streamer does) */
		gdn_log_info(s->log, "stream-unknown", "stream_id", req->stream_id, NULL);
		(void)send(fd, head.data, head.len, MSG_NOSIGNAL | MSG_DONTWAIT);
		struct gdn_watch w = {.fd = gdn_steal_fd(&fd)};
		drain_and_close(s, &w);
		return;
	}
	if (dd_buf_prepend(&st->pend, head.data, head.len) < 0)
		return;
	st->w.fd = gdn_steal_fd(&fd);
	st->state = DD_STREAM_OPEN;
	st->progress_at = gdn_now_mono_ns();
	gdn_log_info(a->log, "stream-connected", "source", i == DD_SRC_STDOUT ? "1" : "2", NULL);
	stream_flush(s, a, i);
}

void dd_attach_on_stream(struct dd_state *s, struct dd_attach *a, int i, uint32_t events)
{
	struct dd_stream *st = &a->out[i];

	if (st->state != DD_STREAM_OPEN)
		return;
	if (events & EPOLLERR) {
		stream_close(s, a, i);
		return;
	}
	if (events & EPOLLOUT)
		stream_flush(s, a, i);
	if (st->state == DD_STREAM_OPEN && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP))) {
		char tmp[512];
		ssize_t n = recv(st->w.fd, tmp, sizeof(tmp), MSG_DONTWAIT);

		if (n == 0)
			st->rd_eof = true;
		if ((events & EPOLLHUP) || (n < 0 && errno != EAGAIN && errno != EINTR))
			stream_close(s, a, i); /* the client is gone */
	}
}

void dd_attach_process_all(struct dd_state *s)
{
	for (struct dd_attach *a = s->attaches; a; a = a->next)
		if (a->active && a->stdin_pend.len == 0 && (a->ctl_in.buf.len > 0 || a->ctl_in.eof))
			ctl_process(s, a);
}

void dd_attach_flush_all(struct dd_state *s)
{
	for (struct dd_attach *a = s->attaches; a; a = a->next)
		for (int i = 0; i < DD_NSRC; i++)
			if (a->out[i].state == DD_STREAM_OPEN && a->out[i].pend.len > 0)
				stream_flush(s, a, i);
}

void dd_attach_finish_all(struct dd_state *s)
{
	for (struct dd_attach *a = s->attaches; a; a = a->next) {
		if (!a->active)
			continue;
		a->closing = true;
		a->exit_queued = dd_payload_exit(&a->ctl_out, a->process_id, s->status) >= 0;
		attach_end(s, a, "process exited", false);
		ctl_flush(s, a);
	}
}

void dd_attach_gc(struct dd_state *s, uint64_t now)
{
	struct dd_attach **pp = &s->attaches;

	while (*pp) {
		struct dd_attach *a = *pp;
		bool done = !a->active && a->ctl.fd < 0;

		for (int i = 0; i < DD_NSRC; i++) {
			if (!a->active && a->out[i].state != DD_STREAM_CLOSED &&
			    dd_stream_expired(a, &a->out[i], now))
				stream_close(s, a, i);
			done = done && a->out[i].state == DD_STREAM_CLOSED;
		}
		if (done) {
			*pp = a->next;
			gdn_log_info(a->log, "done", NULL);
			attach_free(s, a);
		} else {
			pp = &a->next;
		}
	}
}

void dd_attach_rearm(struct dd_state *s)
{
	for (struct dd_attach *a = s->attaches; a; a = a->next) {
		uint32_t ev = 0;

		if (a->ctl_out.len > 0)
			ev |= EPOLLOUT;
		if (a->active && a->stdin_pend.len == 0 && !a->ctl_in.eof)
			ev |= EPOLLIN;
		dd_watch_set(s, &a->ctl, ev);
		for (int i = 0; i < DD_NSRC; i++) {
			struct dd_stream *st = &a->out[i];

			ev = 0;
			if (st->state == DD_STREAM_OPEN && st->pend.len > 0)
				ev |= EPOLLOUT;
			if (st->state == DD_STREAM_OPEN && !st->rd_eof)
				ev |= EPOLLIN | EPOLLRDHUP;
			dd_watch_set(s, &st->w, ev);
		}
	}
}

void dd_attach_free_all(struct dd_state *s)
{
	while (s->attaches) {
		struct dd_attach *a = s->attaches;

		s->attaches = a->next;
		attach_free(s, a);
	}
}
