/* The output buffering policy (docs/PROCESSES.md, "Output"). Plain data, no I/O: the loop asks
 * how much it may read, hands what it read to dd_fanout, and the attachments write it out.
 *
 * - Nobody attached: up to DD_UNATTACHED_MAX per source is kept for the next attachment, then
 *   reading stops, so the process blocks as it would on a full pipe.
 * - An active attachment whose stream has not connected: up to DD_STREAM_MAX is kept; for the
 *   first DD_STREAM_CONNECT_GRACE_NS of the attachment reading pauses at that mark, later
 *   further output is dropped for that stream (Garden drops too).
 * - A connected stream: reading pauses while DD_STREAM_MAX bytes wait for it (the slowest
 *   reader paces the process). */
#include <errno.h>
#include <string.h>
#include "cmd/dadoo/dadoo.h"

static size_t room(size_t used, size_t cap)
{
	return used < cap ? cap - used : 0;
}

static size_t min_size(size_t a, size_t b)
{
	return a < b ? a : b;
}

static bool in_grace(const struct dd_attach *a, uint64_t now)
{
	return now < a->started_at + DD_STREAM_CONNECT_GRACE_NS;
}

size_t dd_read_budget(const struct dd_state *s, int src, uint64_t now)
{
	const struct dd_source *so = &s->src[src];
	size_t budget = DD_READ_CHUNK;
	bool attached = false;

	if (so->eof || so->w.fd < 0)
		return 0;
	for (const struct dd_attach *a = s->attaches; a; a = a->next) {
		const struct dd_stream *st = &a->out[src];

		if (!a->active)
			continue;
		attached = true;
		if (st->state == DD_STREAM_OPEN ||
		    (st->state == DD_STREAM_WAITING && in_grace(a, now)))
			budget = min_size(budget, room(st->pend.len, DD_STREAM_MAX));
	}
	if (!attached) {
		size_t cap = s->reaped ? DD_UNATTACHED_EXITED_MAX : DD_UNATTACHED_MAX;

		budget = min_size(budget, room(so->unattached.len, cap));
	}
	return budget;
}

int dd_fanout(struct dd_state *s, int src, const char *data, size_t len)
{
	bool attached = false;

	for (struct dd_attach *a = s->attaches; a; a = a->next) {
		struct dd_stream *st = &a->out[src];
		size_t keep = len;

		if (!a->active)
			continue;
		attached = true;
		if (st->state == DD_STREAM_CLOSED)
			continue;
		if (st->state == DD_STREAM_WAITING)
			keep = min_size(len, room(st->pend.len, DD_STREAM_MAX));
		st->dropped += len - keep;
		if (keep > 0 && gdn_buf_append(&st->pend, data, keep) < 0)
			return -ENOMEM;
	}
	if (!attached)
		return gdn_buf_append(&s->src[src].unattached, data, len);
	return 0;
}

void dd_adopt_unattached(struct dd_state *s, struct dd_attach *a)
{
	for (int i = 0; i < DD_NSRC; i++) {
		struct gdn_buf *u = &s->src[i].unattached;
		struct gdn_buf *p = &a->out[i].pend;

		if (u->len == 0)
			continue;
		if (p->len == 0) {
			struct gdn_buf tmp = *p;

			*p = *u;
			*u = tmp;
		} else if (gdn_buf_append(p, u->data, u->len) < 0) {
			continue; /* kept for the next attachment */
		}
		gdn_buf_free(u);
	}
}

bool dd_stream_expired(const struct dd_attach *a, const struct dd_stream *st, uint64_t now)
{
	if (a->active)
		return false;
	switch (st->state) {
	case DD_STREAM_WAITING:
		return st->pend.len == 0 || now >= a->ended_at + DD_STREAM_RETAIN_NS;
	case DD_STREAM_OPEN:
		return st->pend.len == 0 || now >= st->progress_at + DD_STREAM_RETAIN_NS;
	default:
		return true;
	}
}

static void earliest(uint64_t *d, uint64_t t)
{
	if (t < *d)
		*d = t;
}

uint64_t dd_buffer_deadline(const struct dd_state *s, uint64_t now)
{
	uint64_t d = UINT64_MAX;

	for (const struct dd_attach *a = s->attaches; a; a = a->next) {
		for (int i = 0; i < DD_NSRC; i++) {
			const struct dd_stream *st = &a->out[i];

			if (a->active) {
				if (st->state == DD_STREAM_WAITING &&
				    st->pend.len >= DD_STREAM_MAX && in_grace(a, now))
					earliest(&d, a->started_at + DD_STREAM_CONNECT_GRACE_NS);
			} else if (st->state == DD_STREAM_WAITING && st->pend.len > 0) {
				earliest(&d, a->ended_at + DD_STREAM_RETAIN_NS);
			} else if (st->state == DD_STREAM_OPEN && st->pend.len > 0) {
				earliest(&d, st->progress_at + DD_STREAM_RETAIN_NS);
			}
		}
	}
	return d;
}

int dd_buf_prepend(struct gdn_buf *b, const void *data, size_t len)
{
	struct gdn_buf n = {0};

	if (gdn_buf_append(&n, data, len) < 0 || gdn_buf_append(&n, b->data, b->len) < 0) {
		gdn_buf_free(&n);
		return -ENOMEM;
	}
	gdn_buf_free(b);
	*b = n;
	return 0;
}

void dd_buf_trim(struct gdn_buf *b)
{
	if (b->len == 0 && b->cap > (64 << 10))
		gdn_buf_free(b);
}
