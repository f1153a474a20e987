/* link: cmd/dadoo/buffer.c */
#include <string.h>

#include "test/unit/tap.h"
#include "cmd/dadoo/dadoo.h"

#define NOW (1000 * DD_NS_PER_S)

static void state_init(struct dd_state *s)
{
	memset(s, 0, sizeof(*s));
	for (int i = 0; i < DD_NSRC; i++)
		s->src[i].w.fd = 10 + i; /* never used for I/O here */
}

static void attach_init(struct dd_state *s, struct dd_attach *a, bool active, uint64_t started)
{
	memset(a, 0, sizeof(*a));
	a->active = active;
	a->started_at = started;
	a->next = s->attaches;
	s->attaches = a;
}

static void state_free(struct dd_state *s)
{
	for (int i = 0; i < DD_NSRC; i++)
		gdn_buf_free(&s->src[i].unattached);
	for (struct dd_attach *a = s->attaches; a; a = a->next)
		for (int i = 0; i < DD_NSRC; i++)
			gdn_buf_free(&a->out[i].pend);
}

static char big[DD_STREAM_MAX];

static void test_unattached_keeps_64k_then_pauses(void)
{
	struct dd_state s;

	state_init(&s);
	CHECK_INTEQ(dd_read_budget(&s, DD_SRC_STDOUT, NOW), DD_READ_CHUNK);
	CHECK_INTEQ(dd_fanout(&s, DD_SRC_STDOUT, big, DD_UNATTACHED_MAX - 10), 0);
	CHECK_INTEQ(dd_read_budget(&s, DD_SRC_STDOUT, NOW), 10);
	CHECK_INTEQ(dd_read_budget(&s, DD_SRC_STDERR, NOW), DD_READ_CHUNK);
	CHECK_INTEQ(dd_fanout(&s, DD_SRC_STDOUT, big, 10), 0);
	CHECK_INTEQ(dd_read_budget(&s, DD_SRC_STDOUT, NOW), 0);
	/* once the process has exited, what is left in the pipe may be read */
	s.reaped = true;
	CHECK_INTEQ(dd_read_budget(&s, DD_SRC_STDOUT, NOW), DD_READ_CHUNK);
	s.src[DD_SRC_STDOUT].eof = true;
	CHECK_INTEQ(dd_read_budget(&s, DD_SRC_STDOUT, NOW), 0);
	state_free(&s);
}

static void test_first_attachment_adopts_unattached(void)
{
	struct dd_state s;
	struct dd_attach a;

	state_init(&s);
	CHECK_INTEQ(dd_fanout(&s, DD_SRC_STDOUT, "early", 5), 0);
	CHECK_INTEQ(dd_fanout(&s, DD_SRC_STDERR, "err", 3), 0);
	attach_init(&s, &a, true, NOW);
	CHECK_INTEQ(gdn_buf_append(&a.out[DD_SRC_STDERR].pend, "x", 1), 0);
	dd_adopt_unattached(&s, &a);
	CHECK_STREQ(a.out[DD_SRC_STDOUT].pend.data, "early");
	CHECK_STREQ(a.out[DD_SRC_STDERR].pend.data, "xerr");
	CHECK_INTEQ(s.src[DD_SRC_STDOUT].unattached.len, 0);
	CHECK_INTEQ(dd_fanout(&s, DD_SRC_STDOUT, "+", 1), 0);
	CHECK_STREQ(a.out[DD_SRC_STDOUT].pend.data, "early+");
	CHECK_INTEQ(s.src[DD_SRC_STDOUT].unattached.len, 0);
	state_free(&s);
}

static void test_waiting_stream_pauses_in_grace_then_drops(void)
{
	struct dd_state s;
	struct dd_attach a;

	state_init(&s);
	attach_init(&s, &a, true, NOW);
	CHECK_INTEQ(dd_fanout(&s, DD_SRC_STDOUT, big, DD_STREAM_MAX - 5), 0);
	CHECK_INTEQ(dd_read_budget(&s, DD_SRC_STDOUT, NOW), 5);
	CHECK_INTEQ(dd_fanout(&s, DD_SRC_STDOUT, big, 5), 0);
	CHECK_INTEQ(dd_read_budget(&s, DD_SRC_STDOUT, NOW), 0);
	CHECK_INTEQ(dd_buffer_deadline(&s, NOW), NOW + DD_STREAM_CONNECT_GRACE_NS);
	/* after the grace period output for it is dropped, and reading goes on */
	uint64_t later = NOW + DD_STREAM_CONNECT_GRACE_NS;
	CHECK_INTEQ(dd_read_budget(&s, DD_SRC_STDOUT, later), DD_READ_CHUNK);
	CHECK_INTEQ(dd_fanout(&s, DD_SRC_STDOUT, "abc", 3), 0);
	CHECK_INTEQ(a.out[DD_SRC_STDOUT].pend.len, DD_STREAM_MAX);
	CHECK_INTEQ(a.out[DD_SRC_STDOUT].dropped, 3);
	CHECK_INTEQ(dd_buffer_deadline(&s, later), UINT64_MAX);
	state_free(&s);
}

static void test_open_stream_backpressure_slowest_paces(void)
{
	struct dd_state s;
	struct dd_attach fast, slow, ended;

	state_init(&s);
	attach_init(&s, &fast, true, NOW);
	attach_init(&s, &slow, true, NOW);
	attach_init(&s, &ended, false, NOW);
	fast.out[DD_SRC_STDOUT].state = DD_STREAM_OPEN;
	slow.out[DD_SRC_STDOUT].state = DD_STREAM_OPEN;
	CHECK_INTEQ(gdn_buf_append(&slow.out[DD_SRC_STDOUT].pend, big, DD_STREAM_MAX - 100), 0);
	CHECK_INTEQ(dd_read_budget(&s, DD_SRC_STDOUT, NOW), 100);
	CHECK_INTEQ(dd_fanout(&s, DD_SRC_STDOUT, big, 100), 0);
	CHECK_INTEQ(dd_read_budget(&s, DD_SRC_STDOUT, NOW), 0);
	CHECK_INTEQ(fast.out[DD_SRC_STDOUT].pend.len, 100);
	CHECK_INTEQ(ended.out[DD_SRC_STDOUT].pend.len, 0); /* an ended attachment gets nothing */
	CHECK_INTEQ(s.src[DD_SRC_STDOUT].unattached.len, 0);
	/* a closed stream neither receives nor holds anything up */
	slow.out[DD_SRC_STDOUT].state = DD_STREAM_CLOSED;
	CHECK_INTEQ(dd_read_budget(&s, DD_SRC_STDOUT, NOW), DD_READ_CHUNK);
	state_free(&s);
}

static void test_ended_attachment_retention(void)
{
	struct dd_state s;
	struct dd_attach a;
	struct dd_stream *out, *err;

	state_init(&s);
	attach_init(&s, &a, false, NOW);
	a.ended_at = NOW;
	out = &a.out[DD_SRC_STDOUT];
	err = &a.out[DD_SRC_STDERR];
	/* nothing buffered: done at once (a late connection gets the head and EOF either way) */
	CHECK(dd_stream_expired(&a, err, NOW));
	CHECK_INTEQ(gdn_buf_append(&out->pend, "x", 1), 0);
	CHECK(!dd_stream_expired(&a, out, NOW));
	CHECK_INTEQ(dd_buffer_deadline(&s, NOW), NOW + DD_STREAM_RETAIN_NS);
	CHECK(dd_stream_expired(&a, out, NOW + DD_STREAM_RETAIN_NS));
	/* connected: done when drained, or when it made no progress for the retention time */
	out->state = DD_STREAM_OPEN;
	out->progress_at = NOW + 5;
	CHECK(!dd_stream_expired(&a, out, NOW + DD_STREAM_RETAIN_NS));
	CHECK(dd_stream_expired(&a, out, NOW + 5 + DD_STREAM_RETAIN_NS));
	gdn_buf_reset(&out->pend);
	CHECK(dd_stream_expired(&a, out, NOW));
	/* an active attachment's streams never expire */
	a.active = true;
	CHECK(!dd_stream_expired(&a, err, NOW + 1000 * DD_STREAM_RETAIN_NS));
	state_free(&s);
}

static void test_prepend_and_trim(void)
{
	_cleanup_buf_ struct gdn_buf b = {0};

	CHECK_INTEQ(dd_buf_prepend(&b, "head", 4), 0);
	CHECK_STREQ(b.data, "head");
	CHECK_INTEQ(gdn_buf_puts(&b, "-body"), 0);
	CHECK_INTEQ(dd_buf_prepend(&b, "H:", 2), 0);
	CHECK_STREQ(b.data, "H:head-body");
	CHECK_INTEQ(gdn_buf_append(&b, big, 100 << 10), 0);
	gdn_buf_reset(&b);
	dd_buf_trim(&b);
	CHECK(b.data == NULL && b.cap == 0);
}

int main(void)
{
	static const struct tap_test tests[] = {
	    TEST(test_unattached_keeps_64k_then_pauses),
	    TEST(test_first_attachment_adopts_unattached),
	    TEST(test_waiting_stream_pauses_in_grace_then_drops),
	    TEST(test_open_stream_backpressure_slowest_paces),
	    TEST(test_ended_attachment_retention),
	    TEST(test_prepend_and_trim),
	};
	return tap_run(tests, GDN_ARRAY_SIZE(tests));
}
