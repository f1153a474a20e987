/* The process's stdin: a non-blocking pipe (or a copy of the pty master). Data an attachment
 * sends that the process does not take at once waits on that attachment, which reads no more
 * payloads until it is written (backpressure). */
#include <errno.h>
#include <string.h>
#include "cmd/dadoo/dadoo.h"

bool dd_stdin_pending(const struct dd_state *s)
{
	for (const struct dd_attach *a = s->attaches; a; a = a->next)
		if (a->stdin_pend.len > 0)
			return true;
	return false;
}

static void drop_pending(struct dd_state *s)
{
	for (struct dd_attach *a = s->attaches; a; a = a->next)
		gdn_buf_free(&a->stdin_pend);
}

static void stdin_gone(struct dd_state *s, int errnum)
{
	_cleanup_err_ struct gdn_err *err = NULL;

	(void)gdn_err_set(&err, errnum, "write to the process's stdin");
	gdn_log_info(s->log, "stdin-closed", "error", gdn_err_str(err), NULL);
	drop_pending(s);
	dd_watch_close(s, &s->in);
	s->stdin_closed = true;
}

/* Bytes written, or -errno (never -EAGAIN: that is 0). */
static ssize_t write_some(int fd, const char *data, size_t len)
{
	ssize_t n;

	do
		n = write(fd, data, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN ? 0 : -errno;
	return n;
}

void dd_stdin_write(struct dd_state *s, struct dd_attach *a, const char *data, size_t len)
{
	if (s->stdin_closed || s->in.fd < 0 || len == 0)
		return;
	if (a->stdin_pend.len == 0) {
		ssize_t n = write_some(s->in.fd, data, len);

		if (n < 0) {
			stdin_gone(s, (int)-n);
			return;
		}
		data += n;
		len -= (size_t)n;
	}
	if (len > 0 && gdn_buf_append(&a->stdin_pend, data, len) < 0)
		gdn_log_error(s->log, "stdin-dropped", NULL, "stream_id", a->stream_id, NULL);
}

void dd_stdin_flush(struct dd_state *s)
{
	for (struct dd_attach *a = s->attaches; a && !s->stdin_closed; a = a->next) {
		while (a->stdin_pend.len > 0) {
			ssize_t n = write_some(s->in.fd, a->stdin_pend.data, a->stdin_pend.len);

			if (n < 0) {
				stdin_gone(s, (int)-n);
				return;
			}
			if (n == 0)
				return;
			gdn_buf_consume(&a->stdin_pend, (size_t)n);
		}
		dd_buf_trim(&a->stdin_pend);
	}
}

void dd_stdin_close(struct dd_state *s, struct dd_attach *a)
{
	if (s->stdin_closed)
		return;
	if (s->tty) {
		/* the terminal's end-of-file character, as typing ^D would */
		dd_stdin_write(s, a, (const char *)&s->veof, 1);
		return;
	}
	gdn_log_info(s->log, "stdin-closed", "stream_id", a->stream_id, NULL);
	drop_pending(s);
	dd_watch_close(s, &s->in);
	s->stdin_closed = true;
}
