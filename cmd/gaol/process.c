/* gaol's side of Garden's process protocol (garden-protocol.md §5), as the Go client does it but
 * in one thread: the hijacked Run/Attach control connection carries NDJSON payloads both ways,
 * and the process's output arrives raw on two more connections, the stdout and stderr stream
 * attachments. One poll() loop copies gaol's stdin into stdin payloads, the streams to gaol's
 * stdout and stderr, turns signals into signal and resize payloads, and ends when the exit
 * payload has arrived and both streams have reached EOF. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>

#include "cmd/gaol/gaol.h"
#include "lib/buf.h"
#include "lib/fs.h"
#include "lib/util.h"

#define STDIN_CHUNK (32 * 1024)	  /* what Go's io.Copy reads at a time */
#define STREAM_CHUNK (64 * 1024)  /* one read of a stream connection */
#define CONTROL_HIGH (256 * 1024) /* stop reading stdin while this much is unsent */
#define STDOUT_SOURCE 0		  /* index into the streams */
#define STDERR_SOURCE 1

/* --- opening ------------------------------------------------------------------------------- */

void gl_process_close(struct gl_process *p)
{
	if (p->control >= 0)
		(void)close(p->control);
	p->control = -1;
	gdn_lines_free(&p->lines);
	free(p->id);
	free(p->stream_id);
	p->id = p->stream_id = NULL;
}

/* Reads (blocking) until one whole payload is buffered, and returns it. */
static int read_payload(struct gl_process *p, json_t **ret, struct gdn_err **err)
{
	for (;;) {
		ssize_t n;
		int r = gdn_lines_next(&p->lines, ret, err);

		if (r != 0)
			return r < 0 ? gdn_err_wrap(err, "bad payload from the server") : 0;
		if (p->lines.eof)
			return gdn_err_set(err, 0,
					   "the server closed the connection before the first "
					   "payload");
		n = gdn_lines_fill(&p->lines, p->control);
		if (n < 0)
			return gdn_err_set(err, (int)-n, "read the first payload");
	}
}

int gl_process_open(struct gl_process *p, const char *method, const char *path, const json_t *spec,
		    struct gdn_err **err)
{
	_cleanup_free_ char *body = NULL;
	json_auto_t *first = NULL;
	const char *id, *sid;
	size_t len = 0;
	int r;

	*p = (struct gl_process){.control = -1};
	if (spec) {
		body = gl_json_line(spec, &len);
		if (!body)
			return gdn_err_set(err, ENOMEM, "encode the process spec");
	}
	r = gl_hijack(method, path, body ? "application/json" : NULL, body, len, &p->lines.buf,
		      err);
	if (r < 0)
		return r;
	p->control = r;

	r = read_payload(p, &first, err);
	if (r < 0)
		return r;
	id = json_string_value(gdn_json_get(first, "process_id"));
	sid = json_string_value(gdn_json_get(first, "stream_id"));
	if (!id || !*id || !sid || !*sid)
		return gdn_err_set(
		    err, 0, "bad response: the first payload has no process_id or stream_id");
	p->id = strdup(id);
	p->stream_id = strdup(sid);
	if (!p->id || !p->stream_id)
		return gdn_err_set(err, ENOMEM, "read the first payload");
	return 0;
}

/* --- waiting ------------------------------------------------------------------------------- */

struct pump {
	struct gl_process *p;
	const struct gl_io *io;
	struct gdn_buf out; /* payloads not yet sent on the control connection */
	bool out_broken;    /* sending failed: the server is gone */
	bool in_open;	    /* still reading io->in */
	char carry[4];	    /* the start of a UTF-8 sequence cut off by the last read */
	size_t n_carry;	    /* (at most 3 bytes) */
	int stream[2];	    /* stdout, stderr connections; -1 once at EOF */
	bool exited;	    /* the exit (or error) payload arrived */
	int exit_status;    /* when exited without error */
	char *error;	    /* the {"error":…} message, when exited with one */
};

static void pump_free(struct pump *s)
{
	gdn_buf_free(&s->out);
	for (int i = 0; i < 2; i++)
		if (s->stream[i] >= 0)
			(void)close(s->stream[i]);
	free(s->error);
}

/* Queues one payload: {"process_id":…} plus the members of `rest` (stolen). */
static int queue(struct pump *s, json_t *rest, struct gdn_err **err)
{
	json_auto_t *msg = json_pack("{s:s}", "process_id", s->p->id);
	_cleanup_free_ char *line = NULL;
	size_t len = 0;

	if (!rest || !msg || json_object_update(msg, rest) < 0) {
		json_decref(rest);
		return gdn_err_set(err, ENOMEM, "encode a payload");
	}
	json_decref(rest);
	if (s->out_broken)
		return 0; /* nobody to send it to; the read side reports why */
	line = gl_json_line(msg, &len);
	if (!line || gdn_buf_append(&s->out, line, len) < 0)
		return gdn_err_set(err, ENOMEM, "encode a payload");
	return 0;
}

/* {"source":0,"data":…} for data[0..len), repaired to valid UTF-8 as Go's encoder would. */
static int queue_stdin(struct pump *s, const char *data, size_t len, struct gdn_err **err)
{
	json_t *str;

	if (len == 0)
		return 0;
	str = gl_json_stringn(data, len);
	if (!str)
		return gdn_err_set(err, ENOMEM, "encode stdin");
	return queue(s, json_pack("{s:i,s:o}", "source", 0, "data", str), err);
}

/* Sends what the control connection takes now; a failed send only marks the server gone. */
static void send_out(struct pump *s)
{
	while (s->out.len > 0 && !s->out_broken) {
		ssize_t n =
		    send(s->p->control, s->out.data, s->out.len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0) {
			/* The server has gone; stdin has nowhere to go. What it says last (an
			 * exit payload or EOF) is still read. */
			s->out_broken = true;
			s->in_open = false;
			gdn_buf_reset(&s->out);
			return;
		}
		gdn_buf_consume(&s->out, (size_t)n);
	}
}

/* One read of io->in: sends what is complete UTF-8 now, keeps a cut-off character for later;
 * at EOF (or a read error, such as EIO from a hung-up terminal) the rest and the EOF payload. */
static int read_stdin(struct pump *s, struct gdn_err **err)
{
	char buf[STDIN_CHUNK + sizeof(s->carry)];
	size_t have, keep;
	ssize_t n;
	int r;

	memcpy(buf, s->carry, s->n_carry);
	do
		n = read(s->io->in, buf + s->n_carry, STDIN_CHUNK);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return 0;
	if (n <= 0) {
		r = queue_stdin(s, buf, s->n_carry, err);
		s->n_carry = 0;
		s->in_open = false;
		return r < 0 ? r : queue(s, json_pack("{s:i}", "source", 0), err);
	}
	have = s->n_carry + (size_t)n;
	keep = have - gl_utf8_complete_len(buf, have);
	r = queue_stdin(s, buf, have - keep, err);
	memcpy(s->carry, buf + have - keep, keep);
	s->n_carry = keep;
	return r;
}

static int read_signal(struct pump *s, struct gdn_err **err)
{
	struct signalfd_siginfo si;
	ssize_t n;
	unsigned cols, rows;

	n = read(s->io->sigfd, &si, sizeof(si));
	if (n != (ssize_t)sizeof(si))
		return 0;
	if (s->exited)
		return 0;
	switch (si.ssi_signo) {
	case SIGINT:
	case SIGTERM:
		/* Garden's only two signals: 0 = terminate (SIGTERM), 1 = kill. */
		return queue(s, json_pack("{s:i}", "signal", 0), err);
	case SIGWINCH:
		if (s->io->tty_fd < 0)
			return 0;
		gl_tty_size(s->io->tty_fd, &cols, &rows);
		return queue(s,
			     json_pack("{s:{s:{s:I,s:I}}}", "tty", "window_size", "columns",
				       (json_int_t)cols, "rows", (json_int_t)rows),
			     err);
	default:
		return 0;
	}
}

/* Handles every complete payload buffered from the server. Only exit_status and error matter
 * (old servers also sent output here; the Go client drops it, and so does gaol). */
static int handle_payloads(struct pump *s, struct gdn_err **err)
{
	while (!s->exited) {
		json_auto_t *msg = NULL;
		json_t *v;
		int r = gdn_lines_next(&s->p->lines, &msg, err);

		if (r < 0)
			return gdn_err_wrap(err, "bad payload from the server");
		if (r == 0)
			return 0;
		v = gdn_json_get(msg, "error");
		if (json_is_string(v)) {
			s->error = strdup(json_string_value(v));
			if (!s->error)
				return gdn_err_set(err, ENOMEM, "read a payload");
			s->exited = true;
			break;
		}
		v = gdn_json_get(msg, "exit_status");
		if (json_is_integer(v)) {
			s->exit_status = (int)json_integer_value(v);
			s->exited = true;
		}
	}
	return 0;
}

static int read_control(struct pump *s, struct gdn_err **err)
{
	ssize_t n = gdn_lines_fill(&s->p->lines, s->p->control);

	if (n == -EAGAIN)
		return 0;
	if (n < 0)
		s->p->lines.eof = true; /* a reset connection ends it like EOF */
	return handle_payloads(s, err);
}

/* Copies stream bytes to gaol's stdout or stderr (blocking: a slow reader there slows the
 * process down, as with a pipe). */
static int write_local(struct pump *s, int i, const char *data, size_t len, struct gdn_err **err)
{
	ssize_t w = gdn_fd_write_all(i == STDOUT_SOURCE ? s->io->out : s->io->err, data, len);

	if (w < 0)
		return gdn_err_set(err, (int)-w, "write standard %s",
				   i == STDOUT_SOURCE ? "output" : "error");
	return 0;
}

static int read_stream(struct pump *s, int i, struct gdn_err **err)
{
	char buf[STREAM_CHUNK];
	ssize_t n;

	do
		n = read(s->stream[i], buf, sizeof(buf));
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return 0;
	if (n <= 0) {
		/* EOF, or a reset: the stream is over either way. */
		(void)close(s->stream[i]);
		s->stream[i] = -1;
		return 0;
	}
	return write_local(s, i, buf, (size_t)n, err);
}

/* Hijacks GET …/processes/<id>/attaches/<stream id>/stdout and …/stderr (both requests go out
 * before either answer is read: one round trip, not two) and writes what came with the heads. */
static int open_streams(struct pump *s, const char *handle, struct gdn_err **err)
{
	_cleanup_free_ char *pid = gdn_url_path_escape(s->p->id);
	_cleanup_free_ char *sid = gdn_url_path_escape(s->p->stream_id);
	static const char *const names[2] = {"stdout", "stderr"};
	struct gdn_err *errs[2] = {NULL, NULL};
	_cleanup_err_ struct gdn_err *local_err = NULL;
	char *paths[2] = {NULL, NULL};
	int fds[2] = {-1, -1}, sent[2] = {0, 0};
	int r = 0;

	for (int i = 0; i < 2; i++) {
		_cleanup_free_ char *suffix = NULL;

		if (!pid || !sid ||
		    asprintf(&suffix, "/processes/%s/attaches/%s/%s", pid, sid, names[i]) < 0 ||
		    !(paths[i] = gl_container_path(handle, suffix))) {
			(void)gdn_err_set(&errs[i], ENOMEM, "attach to %s", names[i]);
			break;
		}
		/* Go sets this Content-Type although the request has no body. */
		fds[i] = gl_hijack_begin("GET", paths[i], "application/json", NULL, 0, &sent[i],
					 &errs[i]);
		if (fds[i] < 0)
			break;
	}
	for (int i = 0; i < 2; i++) {
		_cleanup_buf_ struct gdn_buf left = {0};
		int fd;

		if (fds[i] < 0)
			continue;
		fd = gl_hijack_end(fds[i], sent[i], "GET", paths[i], &left, &errs[i]);
		if (fd < 0)
			continue;
		s->stream[i] = fd;
		if (left.len > 0 && !local_err)
			(void)write_local(s, i, left.data, left.len, &local_err);
	}
	/* the first stream's failure is the one to tell, whichever step it failed at */
	for (int i = 0; i < 2; i++) {
		if (errs[i] && r == 0) {
			r = gdn_err_wrap(&errs[i], "failed to hijack the %s stream", names[i]);
			if (err)
				*err = gdn_steal_ptr(&errs[i]);
		}
		errs[i] = gdn_err_free(errs[i]);
		free(paths[i]);
	}
	if (local_err && r == 0) {
		r = gdn_err_code(local_err);
		if (err)
			*err = gdn_steal_ptr(&local_err);
	}
	return r;
}

enum { P_SIG, P_CONTROL, P_STDOUT, P_STDERR, P_STDIN, P_MAX };

static int pump_step(struct pump *s, struct gdn_err **err)
{
	struct pollfd pfd[P_MAX];
	int r;

	for (int i = 0; i < P_MAX; i++)
		pfd[i] = (struct pollfd){.fd = -1};
	if (s->io->sigfd >= 0)
		pfd[P_SIG] = (struct pollfd){.fd = s->io->sigfd, .events = POLLIN};
	if (!s->exited) {
		short ev = s->p->lines.eof ? 0 : POLLIN;

		if (s->out.len > 0 && !s->out_broken)
			ev |= POLLOUT;
		if (ev)
			pfd[P_CONTROL] = (struct pollfd){.fd = s->p->control, .events = ev};
		/* Back-pressure: a process that does not read its stdin stops gaol's reading. */
		if (s->in_open && s->out.len < CONTROL_HIGH)
			pfd[P_STDIN] = (struct pollfd){.fd = s->io->in, .events = POLLIN};
	}
	for (int i = 0; i < 2; i++)
		if (s->stream[i] >= 0)
			pfd[P_STDOUT + i] = (struct pollfd){.fd = s->stream[i], .events = POLLIN};

	if (poll(pfd, P_MAX, -1) < 0)
		return errno == EINTR ? 0 : gdn_err_set(err, errno, "poll");

	if (pfd[P_SIG].revents && (r = read_signal(s, err)) < 0)
		return r;
	if (pfd[P_CONTROL].revents & (POLLOUT | POLLERR | POLLHUP))
		send_out(s);
	if ((pfd[P_CONTROL].revents & (POLLIN | POLLERR | POLLHUP)) &&
	    (r = read_control(s, err)) < 0)
		return r;
	for (int i = 0; i < 2; i++)
		if (pfd[P_STDOUT + i].revents && s->stream[i] >= 0 &&
		    (r = read_stream(s, i, err)) < 0)
			return r;
	if (pfd[P_STDIN].revents && s->in_open && !s->exited) {
		r = read_stdin(s, err);
		if (r < 0)
			return r;
		send_out(s);
	} else if (pfd[P_SIG].revents) {
		send_out(s);
	}
	return 0;
}

int gl_process_wait(struct gl_process *p, const char *handle, const struct gl_io *io,
		    struct gdn_err **err)
{
	_cleanup_(pump_free) struct pump s = {.p = p, .io = io, .stream = {-1, -1}};
	int r;

	s.in_open = io->in >= 0;
	r = gdn_fd_set_nonblock(p->control, true);
	if (r < 0)
		return gdn_err_set(err, -r, "control connection");
	r = open_streams(&s, handle, err);
	if (r < 0)
		return r;
	/* The exit payload may have come with the first one. */
	r = handle_payloads(&s, err);
	if (r < 0)
		return r;

	while (!s.exited || s.stream[0] >= 0 || s.stream[1] >= 0) {
		if (!s.exited && s.p->lines.eof)
			return gdn_err_set(err, 0,
					   "the connection to the server ended before the process "
					   "exited (it may still be running: gaol attach -p %s %s)",
					   p->id, handle);
		r = pump_step(&s, err);
		if (r < 0)
			return r;
	}
	if (s.error)
		return gdn_err_set(err, 0, "%s", s.error);
	return s.exit_status & 0xff;
}
