#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include "lib/loop.h"
#include "lib/util.h"
#include "test/unit/tap.h"

#define NS_PER_MS 1000000ULL

struct counter {
	struct gdn_watch w;
	int calls;
	uint32_t last_events;
	struct gdn_watch *close_other; /* closed by this watch's callback */
	bool stop;
};

static void count_event(struct gdn_loop *l, struct gdn_watch *w, uint32_t events)
{
	struct counter *c = w->data;
	char buf[64];

	c->calls++;
	c->last_events = events;
	if (events & EPOLLIN)
		(void)!read(w->fd, buf, sizeof(buf));
	if (c->close_other)
		gdn_loop_close(l, c->close_other);
	if (c->stop)
		gdn_loop_stop(l);
}

static void make_pipe(int p[2])
{
	CHECK(pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0);
}

static void test_watch_dispatch_and_interest(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	struct gdn_loop l;
	struct counter c = {0};
	int p[2];

	CHECK_OK(gdn_loop_init(&l, &err), err);
	make_pipe(p);
	gdn_watch_init(&c.w, p[0], count_event, &c);
	CHECK(gdn_loop_watch(&l, &c.w, EPOLLIN) == 0);
	CHECK_INTEQ(gdn_loop_run_once(&l, 0, &err), 0);
	CHECK_INTEQ(c.calls, 0);
	CHECK(write(p[1], "x", 1) == 1);
	CHECK_INTEQ(gdn_loop_run_once(&l, 1000, &err), 1);
	CHECK_INTEQ(c.calls, 1);
	CHECK(c.last_events & EPOLLIN);
	/* interest 0: not reported although readable */
	CHECK(write(p[1], "x", 1) == 1);
	CHECK(gdn_loop_watch(&l, &c.w, 0) == 0);
	CHECK_INTEQ(gdn_loop_run_once(&l, 0, &err), 0);
	CHECK_INTEQ(c.calls, 1);
	CHECK(gdn_loop_watch(&l, &c.w, EPOLLIN) == 0);
	CHECK_INTEQ(gdn_loop_run_once(&l, 0, &err), 1);
	CHECK_INTEQ(c.calls, 2);
	gdn_loop_close(&l, &c.w);
	CHECK_INTEQ(c.w.fd, -1);
	(void)close(p[1]);
	gdn_loop_free(&l);
}

/* Two readable fds in one round; the first callback closes the second watch, which then must not
 * be called (its memory stays valid: it is a member of a live object here). */
static void test_closed_in_same_round_is_skipped(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	struct gdn_loop l;
	struct counter a = {0}, b = {0};
	int pa[2], pb[2];

	CHECK_OK(gdn_loop_init(&l, &err), err);
	make_pipe(pa);
	make_pipe(pb);
	gdn_watch_init(&a.w, pa[0], count_event, &a);
	gdn_watch_init(&b.w, pb[0], count_event, &b);
	a.close_other = &b.w;
	b.close_other = &a.w;
	CHECK(gdn_loop_watch(&l, &a.w, EPOLLIN) == 0);
	CHECK(gdn_loop_watch(&l, &b.w, EPOLLIN) == 0);
	CHECK(write(pa[1], "x", 1) == 1);
	CHECK(write(pb[1], "x", 1) == 1);
	CHECK_INTEQ(gdn_loop_run_once(&l, 1000, &err), 2);
	CHECK_INTEQ(a.calls + b.calls, 1);
	gdn_loop_close(&l, &a.w);
	gdn_loop_close(&l, &b.w);
	gdn_loop_free(&l);
}

struct obj {
	struct gdn_defer defer;
	int *released;
};

static void obj_release(struct gdn_defer *d)
{
	struct obj *o = (struct obj *)d;

	(*o->released)++;
	free(o);
}

struct deferring {
	struct gdn_watch w;
	struct obj *victim;
	int *released_at_callback;
};

static void defer_event(struct gdn_loop *l, struct gdn_watch *w, uint32_t events)
{
	struct deferring *d = w->data;
	char buf[8];

	(void)events;
	(void)!read(w->fd, buf, sizeof(buf));
	*d->released_at_callback = *d->victim->released;
	gdn_loop_defer_free(l, &d->victim->defer);
	gdn_loop_defer_free(l, &d->victim->defer); /* twice: still one release */
}

static void test_defer_free_runs_after_the_round(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	struct gdn_loop l;
	struct deferring d;
	struct obj *o = calloc(1, sizeof(*o));
	int released = 0, at_callback = -1, p[2];

	CHECK(o);
	o->defer.release = obj_release;
	o->released = &released;
	CHECK_OK(gdn_loop_init(&l, &err), err);
	make_pipe(p);
	d.victim = o;
	d.released_at_callback = &at_callback;
	gdn_watch_init(&d.w, p[0], defer_event, &d);
	CHECK(gdn_loop_watch(&l, &d.w, EPOLLIN) == 0);
	CHECK(write(p[1], "x", 1) == 1);
	CHECK_INTEQ(gdn_loop_run_once(&l, 1000, &err), 1);
	CHECK_INTEQ(at_callback, 0);
	CHECK_INTEQ(released, 1);
	gdn_loop_close(&l, &d.w);
	(void)close(p[1]);
	gdn_loop_free(&l);
}

struct tick {
	struct gdn_timer t;
	int *n;
	int id;
	int *log;
};

static void record(struct gdn_loop *l, struct gdn_timer *t)
{
	struct tick *k = t->data;

	(void)l;
	k->log[(*k->n)++] = k->id;
}

/* Deadlines fire in time order whatever order they were armed, moved or cancelled in. */
static void test_timers_order_move_cancel(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	struct gdn_loop l;
	struct tick k[8];
	int log[16], n = 0;
	uint64_t base = gdn_now_mono_ns();
	const int at[8] = {7, 3, 5, 1, 8, 2, 6, 4};

	CHECK_OK(gdn_loop_init(&l, &err), err);
	for (int i = 0; i < 8; i++) {
		k[i].id = at[i];
		k[i].n = &n;
		k[i].log = log;
		gdn_timer_init(&k[i].t, record, &k[i]);
		CHECK(gdn_loop_timer_at(&l, &k[i].t, base + (uint64_t)at[i] * NS_PER_MS) == 0);
		CHECK(gdn_timer_armed(&k[i].t));
	}
	/* id 8 moves to the front (0.5 ms), id 3 is cancelled */
	CHECK(gdn_loop_timer_at(&l, &k[4].t, base + NS_PER_MS / 2) == 0);
	k[4].id = 0;
	gdn_loop_timer_cancel(&l, &k[1].t);
	CHECK(!gdn_timer_armed(&k[1].t));
	while (n < 7)
		CHECK(gdn_loop_run_once(&l, 100, &err) >= 0);
	{
		const int want[7] = {0, 1, 2, 4, 5, 6, 7};

		for (int i = 0; i < 7; i++)
			CHECK_INTEQ(log[i], want[i]);
	}
	CHECK(gdn_now_mono_ns() - base >= 7 * NS_PER_MS);
	for (int i = 0; i < 8; i++)
		CHECK(!gdn_timer_armed(&k[i].t));
	gdn_loop_free(&l);
}

/* Many timers with pseudo-random deadlines, cancels and moves: the heap never loses or reorders
 * one (checked without waiting: every deadline is in the past). */
static void test_timer_heap_stress(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	enum { N = 500 };
	static struct tick k[N];
	static int log[N];
	struct gdn_loop l;
	uint32_t x = 12345;
	int n = 0, armed = 0;
	uint64_t last = 0;

	CHECK_OK(gdn_loop_init(&l, &err), err);
	for (int i = 0; i < N; i++) {
		x = x * 1103515245u + 12345u;
		k[i].id = (int)(x >> 8) % 100000 + 1;
		k[i].n = &n;
		k[i].log = log;
		gdn_timer_init(&k[i].t, record, &k[i]);
		CHECK(gdn_loop_timer_at(&l, &k[i].t, (uint64_t)k[i].id) == 0);
	}
	for (int i = 0; i < N; i += 3)
		gdn_loop_timer_cancel(&l, &k[i].t);
	for (int i = 1; i < N; i += 7) {
		k[i].id = k[i].id / 2 + 1;
		CHECK(gdn_loop_timer_at(&l, &k[i].t, (uint64_t)k[i].id) == 0);
	}
	for (int i = 0; i < N; i++)
		armed += gdn_timer_armed(&k[i].t);
	CHECK_INTEQ(gdn_loop_run_once(&l, 0, &err), 0);
	CHECK_INTEQ(n, armed);
	for (int i = 0; i < n; i++) {
		CHECK((uint64_t)log[i] >= last);
		last = (uint64_t)log[i];
	}
	gdn_loop_free(&l);
}

struct rearm {
	struct gdn_timer t;
	int fired;
};

static void rearm_in_past(struct gdn_loop *l, struct gdn_timer *t)
{
	struct rearm *r = t->data;

	r->fired++;
	CHECK(gdn_loop_timer_at(l, t, 1) == 0);
}

/* A timer that re-arms itself for the past fires once per round, not forever. */
static void test_timer_rearm_in_past_is_bounded(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	struct gdn_loop l;
	struct rearm r = {.fired = 0};

	CHECK_OK(gdn_loop_init(&l, &err), err);
	gdn_timer_init(&r.t, rearm_in_past, &r);
	CHECK(gdn_loop_timer_at(&l, &r.t, 1) == 0);
	CHECK(gdn_loop_run_once(&l, 0, &err) >= 0);
	CHECK_INTEQ(r.fired, 1);
	CHECK(gdn_loop_run_once(&l, 0, &err) >= 0);
	CHECK_INTEQ(r.fired, 2);
	gdn_loop_timer_cancel(&l, &r.t);
	gdn_loop_free(&l);
}

struct sigs {
	int got[4];
	int n;
};

static void on_sig(struct gdn_loop *l, const struct signalfd_siginfo *si, void *data)
{
	struct sigs *s = data;

	if (s->n < 4)
		s->got[s->n++] = (int)si->ssi_signo;
	if (si->ssi_signo == SIGTERM)
		gdn_loop_stop(l);
}

static void prepare_count(struct gdn_loop *l, void *data)
{
	(void)l;
	(*(int *)data)++;
}

/* Signals arrive through the signalfd, in order; a callback stops gdn_loop_run. */
static void test_signals_and_run(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	const int signals[] = {SIGUSR1, SIGTERM};
	struct gdn_loop l;
	struct sigs s = {.n = 0};
	int rounds = 0;

	CHECK_OK(gdn_loop_init(&l, &err), err);
	CHECK_OK(gdn_loop_signals(&l, signals, 2, on_sig, &s, &err), err);
	l.prepare = prepare_count;
	l.prepare_data = &rounds;
	CHECK(kill(getpid(), SIGUSR1) == 0);
	CHECK(kill(getpid(), SIGTERM) == 0);
	CHECK_OK(gdn_loop_run(&l, &err), err);
	CHECK(s.n >= 2);
	CHECK_INTEQ(s.got[0], SIGUSR1);
	CHECK_INTEQ(s.got[s.n - 1], SIGTERM);
	CHECK(rounds >= 1);
	gdn_loop_free(&l);
}

/* The wait ends at the first deadline even with no fd ready and no cap. */
static void test_wait_ends_at_deadline(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	struct gdn_loop l;
	struct tick k;
	int log[2], n = 0;
	uint64_t t0 = gdn_now_mono_ns();

	CHECK_OK(gdn_loop_init(&l, &err), err);
	k.id = 1;
	k.n = &n;
	k.log = log;
	gdn_timer_init(&k.t, record, &k);
	CHECK(gdn_loop_timer_in(&l, &k.t, 20) == 0);
	CHECK(gdn_loop_run_once(&l, -1, &err) >= 0);
	CHECK_INTEQ(n, 1);
	CHECK(gdn_now_mono_ns() - t0 >= 20 * NS_PER_MS);
	CHECK(gdn_now_mono_ns() - t0 < 2000 * NS_PER_MS);
	gdn_loop_free(&l);
}

int main(void)
{
	static const struct tap_test tests[] = {
	    TEST(test_watch_dispatch_and_interest),
	    TEST(test_closed_in_same_round_is_skipped),
	    TEST(test_defer_free_runs_after_the_round),
	    TEST(test_timers_order_move_cancel),
	    TEST(test_timer_heap_stress),
	    TEST(test_timer_rearm_in_past_is_bounded),
	    TEST(test_signals_and_run),
	    TEST(test_wait_ends_at_deadline),
	};
	return tap_run(tests, GDN_ARRAY_SIZE(tests));
}
