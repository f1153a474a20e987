/* The one event loop of every daemon: a level-triggered epoll set of watches (an fd plus a
 * callback), a signalfd, deadlines on CLOCK_MONOTONIC and deferred frees. Single-threaded.
 *
 * Callbacks may close watches and release objects that later events of the same batch point
 * at: a closed watch (fd -1) gets no more callbacks, and an object handed to
 * gdn_loop_defer_free is released only once the batch and the expired timers are done. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/signalfd.h>
#include "lib/err.h"

struct gdn_loop;
struct gdn_watch;
struct gdn_timer;

typedef void (*gdn_watch_fn)(struct gdn_loop *l, struct gdn_watch *w, uint32_t events);
typedef void (*gdn_timer_fn)(struct gdn_loop *l, struct gdn_timer *t);
typedef void (*gdn_signal_fn)(struct gdn_loop *l, const struct signalfd_siginfo *si, void *data);
typedef void (*gdn_loop_hook_fn)(struct gdn_loop *l, void *data);

/* Embedded in the object that owns the fd; data.ptr of its epoll event points here. */
struct gdn_watch {
	int fd;		 /* -1: none (or closed) */
	uint32_t events; /* the interest registered in the epoll set; 0: not registered */
	gdn_watch_fn fn;
	void *data;
};

/* A deadline. Armed timers sit in the loop's heap; an expired one is disarmed before its
 * callback runs (which may arm it again). */
struct gdn_timer {
	uint64_t at_ns; /* CLOCK_MONOTONIC */
	size_t slot;	/* 1 + its index in the heap; 0: not armed */
	gdn_timer_fn fn;
	void *data;
};

/* Embedded in an object released through gdn_loop_defer_free (no allocation can fail there). */
struct gdn_defer {
	struct gdn_defer *next;
	void (*release)(struct gdn_defer *d);
	bool queued;
};

struct gdn_loop {
	int epfd;
	struct gdn_watch sig;
	gdn_signal_fn on_signal;
	void *signal_data;
	struct gdn_timer **heap;
	size_t n_timers, cap_timers;
	struct gdn_defer *deferred;
	/* runs at the start of every round of gdn_loop_run, before the wait is computed */
	gdn_loop_hook_fn prepare;
	void *prepare_data;
	uint64_t now_ns; /* CLOCK_MONOTONIC when the current round's events arrived */
	bool stopped;
};

int gdn_loop_init(struct gdn_loop *l, struct gdn_err **err);
/* Closes the epoll set and the signalfd and runs the deferred releases; watches and timers
 * belong to their owners. */
void gdn_loop_free(struct gdn_loop *l);

void gdn_watch_init(struct gdn_watch *w, int fd, gdn_watch_fn fn, void *data);
/* Sets the interest in w->fd (EPOLLIN, EPOLLOUT, EPOLLRDHUP ...): adds, modifies, or with 0
 * removes it from the epoll set. Nothing happens for an fd of -1. -errno on failure. */
int gdn_loop_watch(struct gdn_loop *l, struct gdn_watch *w, uint32_t events);
/* Removes w from the epoll set (always before the close: epoll keys on the open file, which
 * lives on where the fd was handed to another process) and closes its fd. */
void gdn_loop_close(struct gdn_loop *l, struct gdn_watch *w);
/* Removes w from the epoll set and gives its fd to the caller (w->fd becomes -1). */
int gdn_loop_release_fd(struct gdn_loop *l, struct gdn_watch *w);

/* Blocks `signals` (n of them) and delivers them through a signalfd to fn, one call each. */
int gdn_loop_signals(struct gdn_loop *l, const int *signals, size_t n, gdn_signal_fn fn, void *data,
		     struct gdn_err **err);

void gdn_timer_init(struct gdn_timer *t, gdn_timer_fn fn, void *data);
/* Arms t for at_ns (CLOCK_MONOTONIC), or moves it there if armed. -ENOMEM. */
int gdn_loop_timer_at(struct gdn_loop *l, struct gdn_timer *t, uint64_t at_ns);
/* Arms t for now + ms. */
int gdn_loop_timer_in(struct gdn_loop *l, struct gdn_timer *t, uint64_t ms);
void gdn_loop_timer_cancel(struct gdn_loop *l, struct gdn_timer *t);
static inline bool gdn_timer_armed(const struct gdn_timer *t)
{
	return t->slot != 0;
}

/* Queues d->release(d) for the end of the current round (at once when no round runs: from
 * gdn_loop_free). Queuing twice is harmless. */
void gdn_loop_defer_free(struct gdn_loop *l, struct gdn_defer *d);

/* One round: waits for events (at most max_wait_ms, -1: until an event or the next timer),
 * dispatches them, fires expired timers, runs deferred releases. Returns the number of events,
 * or -errno (EINTR is a round with no events). */
int gdn_loop_run_once(struct gdn_loop *l, int max_wait_ms, struct gdn_err **err);
/* Rounds (each preceded by l->prepare) until gdn_loop_stop. */
int gdn_loop_run(struct gdn_loop *l, struct gdn_err **err);
void gdn_loop_stop(struct gdn_loop *l);
/* The time of the current round (CLOCK_MONOTONIC ns), or the current time outside one. */
uint64_t gdn_loop_now(const struct gdn_loop *l);
