/* The event loop: see loop.h. Deadlines live in a binary min-heap, so that a daemon with
 * thousands of timed connections pays O(log n) per change and O(1) to find the next one. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include "lib/loop.h"
#include "lib/util.h"

#define MAX_EVENTS 64
#define NS_PER_MS 1000000ULL

int gdn_loop_init(struct gdn_loop *l, struct gdn_err **err)
{
	memset(l, 0, sizeof(*l));
	l->sig.fd = -1;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0)
		return gdn_err_set(err, errno, "epoll_create1");
	return 0;
}

static void run_deferred(struct gdn_loop *l)
{
	while (l->deferred) {
		struct gdn_defer *d = l->deferred;

		l->deferred = d->next;
		d->next = NULL;
		d->queued = false;
		d->release(d);
	}
}

void gdn_loop_free(struct gdn_loop *l)
{
	run_deferred(l);
	if (l->sig.fd >= 0)
		(void)close(l->sig.fd);
	l->sig.fd = -1;
	if (l->epfd >= 0)
		(void)close(l->epfd);
	l->epfd = -1;
	for (size_t i = 0; i < l->n_timers; i++)
		l->heap[i]->slot = 0;
	free(l->heap);
	l->heap = NULL;
	l->n_timers = l->cap_timers = 0;
}

void gdn_watch_init(struct gdn_watch *w, int fd, gdn_watch_fn fn, void *data)
{
	w->fd = fd;
	w->events = 0;
	w->fn = fn;
	w->data = data;
}

int gdn_loop_watch(struct gdn_loop *l, struct gdn_watch *w, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = w};
	int op;

	if (w->fd < 0 || w->events == events)
		return 0;
	if (events == 0)
		op = EPOLL_CTL_DEL;
	else
		op = w->events == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
	if (epoll_ctl(l->epfd, op, w->fd, &ev) < 0)
		return -errno;
	w->events = events;
	return 0;
}

int gdn_loop_release_fd(struct gdn_loop *l, struct gdn_watch *w)
{
	if (w->fd >= 0 && w->events != 0)
		(void)epoll_ctl(l->epfd, EPOLL_CTL_DEL, w->fd, NULL);
	w->events = 0;
	return gdn_steal_fd(&w->fd);
}

void gdn_loop_close(struct gdn_loop *l, struct gdn_watch *w)
{
	int fd = gdn_loop_release_fd(l, w);

	if (fd >= 0)
		(void)close(fd);
}

static void on_signalfd(struct gdn_loop *l, struct gdn_watch *w, uint32_t events)
{
	struct signalfd_siginfo si;

	(void)events;
	for (;;) {
		ssize_t n = read(w->fd, &si, sizeof(si));

		if (n != (ssize_t)sizeof(si))
			return;
		if (l->on_signal)
			l->on_signal(l, &si, l->signal_data);
	}
}

int gdn_loop_signals(struct gdn_loop *l, const int *signals, size_t n, gdn_signal_fn fn, void *data,
		     struct gdn_err **err)
{
	sigset_t mask;
	int fd, r;

	(void)sigemptyset(&mask);
	for (size_t i = 0; i < n; i++)
		(void)sigaddset(&mask, signals[i]);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return gdn_err_set(err, errno, "sigprocmask");
	fd = signalfd(l->sig.fd, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (fd < 0)
		return gdn_err_set(err, errno, "signalfd");
	l->on_signal = fn;
	l->signal_data = data;
	if (l->sig.fd < 0) {
		gdn_watch_init(&l->sig, fd, on_signalfd, NULL);
		r = gdn_loop_watch(l, &l->sig, EPOLLIN);
		if (r < 0)
			return gdn_err_set(err, -r, "watch the signalfd");
	}
	return 0;
}

/* --- timers ----------------------------------------------------------------------------------- */

static void heap_place(struct gdn_loop *l, size_t i, struct gdn_timer *t)
{
	l->heap[i] = t;
	t->slot = i + 1;
}

static void sift_up(struct gdn_loop *l, size_t i)
{
	struct gdn_timer *t = l->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (l->heap[parent]->at_ns <= t->at_ns)
			break;
		heap_place(l, i, l->heap[parent]);
		i = parent;
	}
	heap_place(l, i, t);
}

static void sift_down(struct gdn_loop *l, size_t i)
{
	struct gdn_timer *t = l->heap[i];

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= l->n_timers)
			break;
		if (c + 1 < l->n_timers && l->heap[c + 1]->at_ns < l->heap[c]->at_ns)
			c++;
		if (t->at_ns <= l->heap[c]->at_ns)
			break;
		heap_place(l, i, l->heap[c]);
		i = c;
	}
	heap_place(l, i, t);
}

void gdn_timer_init(struct gdn_timer *t, gdn_timer_fn fn, void *data)
{
	t->at_ns = 0;
	t->slot = 0;
	t->fn = fn;
	t->data = data;
}

void gdn_loop_timer_cancel(struct gdn_loop *l, struct gdn_timer *t)
{
	struct gdn_timer *moved;
	size_t i;

	if (!t->slot)
		return;
	i = t->slot - 1;
	t->slot = 0;
	l->n_timers--;
	if (i == l->n_timers)
		return;
	moved = l->heap[l->n_timers];
	heap_place(l, i, moved);
	sift_down(l, i);
	sift_up(l, moved->slot - 1);
}

int gdn_loop_timer_at(struct gdn_loop *l, struct gdn_timer *t, uint64_t at_ns)
{
	if (t->slot) {
		size_t i = t->slot - 1;

		t->at_ns = at_ns;
		sift_up(l, i);
		sift_down(l, t->slot - 1);
		return 0;
	}
	if (l->n_timers == l->cap_timers) {
		size_t cap = l->cap_timers ? 2 * l->cap_timers : 16;
		struct gdn_timer **h = realloc(l->heap, cap * sizeof(*h));

		if (!h)
			return -ENOMEM;
		l->heap = h;
		l->cap_timers = cap;
	}
	t->at_ns = at_ns;
	l->heap[l->n_timers] = t;
	t->slot = ++l->n_timers;
	sift_up(l, l->n_timers - 1);
	return 0;
}

int gdn_loop_timer_in(struct gdn_loop *l, struct gdn_timer *t, uint64_t ms)
{
	return gdn_loop_timer_at(l, t, gdn_loop_now(l) + ms * NS_PER_MS);
}

/* At most as many callbacks as timers were armed: one that re-arms itself for the past fires
 * again in the next round, not forever in this one. */
static void fire_timers(struct gdn_loop *l, uint64_t now)
{
	size_t budget = l->n_timers;

	while (budget-- > 0 && l->n_timers > 0 && l->heap[0]->at_ns <= now) {
		struct gdn_timer *t = l->heap[0];

		gdn_loop_timer_cancel(l, t);
		t->fn(l, t);
	}
}

/* ms until the first deadline (rounded up, so that it has passed when the wait ends), capped by
 * max_wait_ms (-1: none). */
static int wait_ms(const struct gdn_loop *l, int max_wait_ms)
{
	uint64_t now, d;

	if (l->n_timers == 0)
		return max_wait_ms;
	now = gdn_now_mono_ns();
	if (l->heap[0]->at_ns <= now)
		return 0;
	d = (l->heap[0]->at_ns - now + NS_PER_MS - 1) / NS_PER_MS;
	if (d > INT_MAX)
		d = INT_MAX;
	if (max_wait_ms >= 0 && (uint64_t)max_wait_ms < d)
		return max_wait_ms;
	return (int)d;
}

/* --- deferred releases and the rounds ----------------------------------------------------------
 */

void gdn_loop_defer_free(struct gdn_loop *l, struct gdn_defer *d)
{
	if (d->queued)
		return;
	d->queued = true;
	d->next = l->deferred;
	l->deferred = d;
}

uint64_t gdn_loop_now(const struct gdn_loop *l)
{
	return l->now_ns ? l->now_ns : gdn_now_mono_ns();
}

int gdn_loop_run_once(struct gdn_loop *l, int max_wait_ms, struct gdn_err **err)
{
	struct epoll_event ev[MAX_EVENTS];
	int n = epoll_wait(l->epfd, ev, MAX_EVENTS, wait_ms(l, max_wait_ms));

	if (n < 0 && errno != EINTR)
		return gdn_err_set(err, errno, "epoll_wait");
	if (n < 0)
		n = 0;
	l->now_ns = gdn_now_mono_ns();
	for (int i = 0; i < n; i++) {
		struct gdn_watch *w = ev[i].data.ptr;

		/* closed, or no longer interested, earlier in this round */
		if (w->fd < 0 || w->events == 0)
			continue;
		w->fn(l, w, ev[i].events);
	}
	fire_timers(l, l->now_ns);
	run_deferred(l);
	l->now_ns = 0;
	return n;
}

int gdn_loop_run(struct gdn_loop *l, struct gdn_err **err)
{
	l->stopped = false;
	for (;;) {
		int r;

		if (l->prepare)
			l->prepare(l, l->prepare_data);
		if (l->stopped)
			return 0;
		r = gdn_loop_run_once(l, -1, err);
		if (r < 0)
			return r;
		if (l->stopped)
			return 0;
	}
}

void gdn_loop_stop(struct gdn_loop *l)
{
	l->stopped = true;
}
