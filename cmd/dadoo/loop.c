/* The event loop (lib/loop): a signalfd (SIGCHLD, SIGTERM, SIGINT), dadoo.sock and its
 * connections, the process's stdio and the attachments' connections. Interest is recomputed
 * before every round from the buffering policy, which is how backpressure works: a source that
 * may not be read is simply not watched. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <stddef.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include "lib/proc.h"
#include "lib/util.h"
#include "cmd/dadoo/dadoo.h"

static struct dd_state *state_of(struct gdn_loop *l)
{
	return (struct dd_state *)((char *)l - offsetof(struct dd_state, loop));
}

void dd_watch_set(struct dd_state *s, struct gdn_watch *w, uint32_t events)
{
	int r = gdn_loop_watch(&s->loop, w, events);

	if (r < 0) {
		_cleanup_err_ struct gdn_err *err = NULL;

		(void)gdn_err_set(&err, -r, "epoll_ctl fd %d", w->fd);
		gdn_log_error(s->log, "watch-failed", err, NULL);
	}
}

void dd_watch_close(struct dd_state *s, struct gdn_watch *w)
{
	gdn_loop_close(&s->loop, w);
}

void dd_signal_process(struct dd_state *s, int sig)
{
	char num[16];

	(void)snprintf(num, sizeof(num), "%d", sig);
	if (s->pid <= 0 || s->reaped) {
		gdn_log_info(s->log, "signal-skipped", "signal", num, NULL);
		return;
	}
	if (kill(s->pid, sig) < 0) {
		_cleanup_err_ struct gdn_err *err = NULL;

		(void)gdn_err_set(&err, errno, "kill %d", (int)s->pid);
		gdn_log_error(s->log, "signal-failed", err, "signal", num, NULL);
		return;
	}
	gdn_log_info(s->log, "signalled", "signal", num, NULL);
}

static void on_signal(struct gdn_loop *l, const struct signalfd_siginfo *si, void *data);

/* Nothing to do: the wake-up itself is the point (the next round re-evaluates the policies). */
static void on_wake(struct gdn_loop *l, struct gdn_timer *t)
{
	(void)l;
	(void)t;
}

int dd_loop_init(struct dd_state *s, struct gdn_err **err)
{
	static const int signals[] = {SIGCHLD, SIGTERM, SIGINT};
	int r = gdn_loop_init(&s->loop, err);

	if (r < 0)
		return r;
	gdn_timer_init(&s->wake, on_wake, NULL);
	return gdn_loop_signals(&s->loop, signals, GDN_ARRAY_SIZE(signals), on_signal, s, err);
}

/* A subreaper collects everything that is re-parented to it; only our process counts. */
static void reap(struct dd_state *s)
{
	for (;;) {
		int wstatus = 0;
		pid_t p = waitpid(-1, &wstatus, WNOHANG);

		if (p <= 0)
			return;
		if (p == s->pid && !s->reaped) {
			char code[16];

			s->reaped = true;
			s->status = gdn_proc_status_code(wstatus);
			(void)snprintf(code, sizeof(code), "%d", s->status);
			gdn_log_info(s->log, "process-exited", "exit_status", code, NULL);
		}
	}
}

static void on_signal(struct gdn_loop *l, const struct signalfd_siginfo *si, void *data)
{
	struct dd_state *s = data;

	(void)l;
	if (si->ssi_signo == SIGCHLD)
		reap(s);
	else
		dd_signal_process(s, (int)si->ssi_signo); /* conmon forwards them too */
}

void dd_on_source(struct gdn_loop *l, struct gdn_watch *w, uint32_t events)
{
	static char chunk[DD_READ_CHUNK];
	struct dd_state *s = state_of(l);
	struct dd_source *so = (struct dd_source *)((char *)w - offsetof(struct dd_source, w));
	int i = (int)(so - s->src);
	size_t budget = dd_read_budget(s, i, gdn_loop_now(l));
	ssize_t n;

	(void)events;
	if (budget == 0)
		return;
	do
		n = read(so->w.fd, chunk, budget);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return;
	if (n <= 0) {
		/* EIO: the pty's other side is closed for good */
		if (n < 0 && errno != EIO) {
			_cleanup_err_ struct gdn_err *err = NULL;

			(void)gdn_err_set(&err, errno, "read the process's output");
			gdn_log_error(s->log, "read-failed", err, NULL);
		}
		so->eof = true;
		dd_watch_set(s, &so->w, 0);
		return;
	}
	if (dd_fanout(s, i, chunk, (size_t)n) < 0)
		gdn_log_error(s->log, "output-lost", NULL, NULL);
}

void dd_on_listen(struct gdn_loop *l, struct gdn_watch *w, uint32_t events)
{
	(void)w;
	(void)events;
	dd_server_on_listen(state_of(l));
}

void dd_on_client(struct gdn_loop *l, struct gdn_watch *w, uint32_t events)
{
	dd_server_on_client(state_of(l), w->data, events);
}

void dd_on_stdin(struct gdn_loop *l, struct gdn_watch *w, uint32_t events)
{
	(void)w;
	(void)events;
	dd_stdin_flush(state_of(l));
}

void dd_on_control(struct gdn_loop *l, struct gdn_watch *w, uint32_t events)
{
	dd_attach_on_control(state_of(l), w->data, events);
}

void dd_on_stream(struct gdn_loop *l, struct gdn_watch *w, uint32_t events)
{
	struct dd_attach *a = w->data;
	struct dd_stream *st = (struct dd_stream *)((char *)w - offsetof(struct dd_stream, w));

	dd_attach_on_stream(state_of(l), a, (int)(st - a->out), events);
}

static void rearm(struct dd_state *s, uint64_t now)
{
	for (int i = 0; i < DD_NSRC; i++)
		dd_watch_set(s, &s->src[i].w, dd_read_budget(s, i, now) > 0 ? EPOLLIN : 0);
	dd_watch_set(s, &s->in, !s->stdin_closed && dd_stdin_pending(s) ? EPOLLOUT : 0);
	dd_attach_rearm(s);
}

/* Before every wait: carry out what the last round made possible, collect what is done, then
 * recompute the interest and the next deadline from the policies. Attachments and clients are
 * freed here, between rounds, so no event of a round can point at a freed one. */
static void prepare(struct gdn_loop *l, void *data)
{
	struct dd_state *s = data;
	uint64_t now = gdn_now_mono_ns();
	uint64_t d, e;

	dd_attach_process_all(s);
	dd_exit_check(s, now);
	dd_attach_flush_all(s);
	dd_attach_gc(s, now);
	dd_server_gc(s);
	if (dd_exit_should_quit(s, now)) {
		gdn_loop_stop(l);
		return;
	}
	rearm(s, now);
	d = dd_buffer_deadline(s, now);
	e = dd_exit_deadline(s);
	if (e < d)
		d = e;
	if (d == UINT64_MAX)
		gdn_loop_timer_cancel(l, &s->wake);
	else if (gdn_loop_timer_at(l, &s->wake, d) < 0)
		gdn_log_error(s->log, "timer-failed", NULL, NULL);
}

int dd_loop_run(struct dd_state *s, struct gdn_err **err)
{
	reap(s); /* the process may be gone already */
	s->loop.prepare = prepare;
	s->loop.prepare_data = s;
	return gdn_loop_run(&s->loop, err);
}
