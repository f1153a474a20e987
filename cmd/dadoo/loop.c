/* The event loop: one epoll set over a signalfd (SIGCHLD, SIGTERM, SIGINT), dadoo.sock and its
 * connections, the process's stdio and the attachments' connections. Interest is recomputed
 * after every round from the buffering policy, which is how backpressure works: a source that
 * may not be read is simply not watched. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include "lib/proc.h"
#include "lib/util.h"
#include "cmd/dadoo/dadoo.h"

#define MAX_EVENTS 32

void dd_watch_set(struct dd_state *s, struct dd_watch *w, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = w};
	int op;

	if (w->fd < 0 || w->events == events)
		return;
	if (events == 0)
		op = EPOLL_CTL_DEL;
	else
		op = w->events == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
	if (epoll_ctl(s->epfd, op, w->fd, &ev) < 0) {
		_cleanup_err_ struct gdn_err *err = NULL;

		(void)gdn_err_set(&err, errno, "epoll_ctl fd %d", w->fd);
		gdn_log_error(s->log, "watch-failed", err, NULL);
		return;
	}
	w->events = events;
}

void dd_watch_close(struct dd_state *s, struct dd_watch *w)
{
	if (w->fd < 0)
		return;
	dd_watch_set(s, w, 0);
	(void)close(w->fd);
	w->fd = -1;
	w->events = 0;
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

int dd_loop_init(struct dd_state *s, struct gdn_err **err)
{
	sigset_t mask;

	(void)sigemptyset(&mask);
	(void)sigaddset(&mask, SIGCHLD);
	(void)sigaddset(&mask, SIGTERM);
	(void)sigaddset(&mask, SIGINT);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return gdn_err_set(err, errno, "sigprocmask");
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s->epfd < 0)
		return gdn_err_set(err, errno, "epoll_create1");
	s->sig.fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (s->sig.fd < 0)
		return gdn_err_set(err, errno, "signalfd");
	dd_watch_set(s, &s->sig, EPOLLIN);
	return 0;
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

static void on_signal(struct dd_state *s)
{
	struct signalfd_siginfo si;

	for (;;) {
		ssize_t n = read(s->sig.fd, &si, sizeof(si));

		if (n != (ssize_t)sizeof(si))
			return;
		if (si.ssi_signo == SIGCHLD)
			reap(s);
		else
			dd_signal_process(s, (int)si.ssi_signo); /* conmon forwards them too */
	}
}

static void on_source(struct dd_state *s, int i, uint64_t now)
{
	static char chunk[DD_READ_CHUNK];
	struct dd_source *so = &s->src[i];
	size_t budget = dd_read_budget(s, i, now);
	ssize_t n;

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

static void dispatch(struct dd_state *s, struct dd_watch *w, uint32_t events, uint64_t now)
{
	if (w->fd < 0)
		return; /* closed earlier in this round */
	switch (w->kind) {
	case DD_W_SIGNAL:
		on_signal(s);
		break;
	case DD_W_LISTEN:
		dd_server_on_listen(s);
		break;
	case DD_W_CLIENT:
		dd_server_on_client(s, w->owner, events);
		break;
	case DD_W_SOURCE:
		on_source(s, w->index, now);
		break;
	case DD_W_STDIN:
		dd_stdin_flush(s);
		break;
	case DD_W_CONTROL:
		dd_attach_on_control(s, w->owner, events);
		break;
	case DD_W_STREAM:
		dd_attach_on_stream(s, w->owner, w->index, events);
		break;
	}
}

static void rearm(struct dd_state *s, uint64_t now)
{
	for (int i = 0; i < DD_NSRC; i++)
		dd_watch_set(s, &s->src[i].w, dd_read_budget(s, i, now) > 0 ? EPOLLIN : 0);
	dd_watch_set(s, &s->in, !s->stdin_closed && dd_stdin_pending(s) ? EPOLLOUT : 0);
	dd_attach_rearm(s);
}

static int timeout_ms(const struct dd_state *s, uint64_t now)
{
	uint64_t d = dd_buffer_deadline(s, now);
	uint64_t e = dd_exit_deadline(s);

	if (e < d)
		d = e;
	if (d == UINT64_MAX)
		return -1;
	if (d <= now)
		return 0;
	d = (d - now + DD_NS_PER_MS - 1) / DD_NS_PER_MS;
	return d > INT_MAX ? INT_MAX : (int)d;
}

int dd_loop_run(struct dd_state *s, struct gdn_err **err)
{
	struct epoll_event ev[MAX_EVENTS];

	reap(s); /* the process may be gone already */
	for (;;) {
		uint64_t now = gdn_now_mono_ns();
		int n;

		dd_attach_process_all(s);
		dd_exit_check(s, now);
		dd_attach_flush_all(s);
		dd_attach_gc(s, now);
		dd_server_gc(s);
		if (dd_exit_should_quit(s, now))
			return 0;
		rearm(s, now);
		n = epoll_wait(s->epfd, ev, MAX_EVENTS, timeout_ms(s, now));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return gdn_err_set(err, errno, "epoll_wait");
		now = gdn_now_mono_ns();
		for (int i = 0; i < n; i++)
			dispatch(s, ev[i].data.ptr, ev[i].events, now);
	}
}
