/* `netplugin-shim serve`: the socket (SOCK_SEQPACKET, peers root or our euid), its connections
 * and their requests. A connection has one request in flight at a time: while its plugin runs
 * it is not read (so a hang-up then goes unnoticed: the plugin still runs to its end and its
 * reply is dropped). */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/nsfs.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "lib/ipc.h"
#include "lib/listener.h"
#include "cmd/netplugin-shim/serve.h"

static void conn_release(struct gdn_defer *d)
{
	free((char *)d - offsetof(struct nps_conn, defer));
}

static void listen_watch(struct nps_server *s)
{
	uint32_t events = !s->stopping && s->n_conns < NPS_MAX_CONNS ? EPOLLIN : 0;

	if (s->listen.watch.fd >= 0 && s->listen.watch.events != events)
		(void)gdn_loop_watch(&s->loop, &s->listen.watch, events);
}

/* Closes the connection (which has no run); its memory goes at the end of the round. */
static void conn_close(struct nps_server *s, struct nps_conn *c)
{
	for (struct nps_conn **p = &s->conns; *p; p = &(*p)->next) {
		if (*p == c) {
			*p = c->next;
			break;
		}
	}
	s->n_conns--;
	gdn_loop_close(&s->loop, &c->w);
	gdn_loop_defer_free(&s->loop, &c->defer);
	listen_watch(s);
}

void nps_conn_done(struct nps_server *s, struct nps_conn *c, bool sent)
{
	c->run = NULL;
	if (!sent || s->stopping || gdn_loop_watch(&s->loop, &c->w, EPOLLIN) < 0)
		conn_close(s, c);
}

static void close_fds(const int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		(void)close(fds[i]);
}

/* Answers a request that runs nothing; a connection we cannot answer is closed. */
static void reply_error(struct nps_server *s, struct nps_conn *c, const struct gdn_err *e)
{
	_cleanup_err_ struct gdn_err *send_err = NULL;

	gdn_log_error(s->log, "request-refused", e, NULL);
	if (gdn_ipc_reply(c->w.fd, NPS_PROTO_VERSION, NULL, e, &send_err) < 0) {
		gdn_log_error(s->log, "reply-failed", send_err, NULL);
		conn_close(s, c);
	}
}

/* The one fd of `up` must be a network namespace: it becomes the plugin's fd 3. */
static int check_netns(int fd, struct gdn_err **err)
{
	int type = ioctl(fd, NS_GET_NSTYPE);

	if (type < 0 && errno != ENOTTY)
		return gdn_err_set(err, errno, "request 'run': the fd sent");
	if (type != CLONE_NEWNET)
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
				    "request 'run': the fd sent is not a network namespace");
	return 0;
}

static void handle(struct nps_server *s, struct nps_conn *c, const json_t *msg, int *fds,
		   size_t nfds)
{
	_cleanup_err_ struct gdn_err *e = NULL;
	struct nps_request req;

	if (nps_request_parse(msg, nfds, &req, &e) < 0 || (nfds == 1 && check_netns(fds[0], &e))) {
		close_fds(fds, nfds);
		reply_error(s, c, e);
		return;
	}
	if (nps_run_start(s, c, &req, nfds == 1 ? fds[0] : -1, &e) < 0) {
		reply_error(s, c, e);
		return;
	}
	/* not read while the plugin runs: one request at a time */
	if (gdn_loop_watch(&s->loop, &c->w, 0) < 0)
		gdn_log_error(s->log, "unwatch-failed", NULL, NULL);
}

static void on_conn(struct gdn_loop *l, struct gdn_watch *w, uint32_t events)
{
	_cleanup_err_ struct gdn_err *e = NULL;
	struct nps_conn *c = w->data;
	struct nps_server *s = c->srv;
	json_auto_t *msg = NULL;
	int fds[GDN_IPC_MAX_FDS];
	size_t nfds = 0;
	int r;

	(void)l;
	(void)events;
	if (c->run)
		return;
	r = gdn_ipc_recv(w->fd, &msg, fds, &nfds, &e);
	if (r == -EAGAIN)
		return;
	if (r == -EBADMSG || r == -EMSGSIZE) {
		reply_error(s, c, e); /* a bad packet: the next one may be fine */
		return;
	}
	if (r <= 0) {
		if (r < 0)
			gdn_log_error(s->log, "receive-failed", e, NULL);
		conn_close(s, c);
		return;
	}
	handle(s, c, msg, fds, nfds);
}

static void on_listen(struct gdn_loop *l, struct gdn_watch *w, uint32_t events)
{
	struct nps_server *s = w->data;

	(void)l;
	(void)events;
	while (s->listen.watch.fd >= 0 && s->n_conns < NPS_MAX_CONNS) {
		_cleanup_err_ struct gdn_err *e = NULL;
		struct nps_conn *c;
		int fd = gdn_ipc_accept(s->listen.watch.fd, GDN_IPC_NONBLOCK, &e);

		if (fd == -EAGAIN)
			break;
		if (fd == -EACCES) {
			gdn_log_info(s->log, "peer-refused", "error", gdn_err_str(e), NULL);
			continue;
		}
		if (fd < 0) {
			gdn_log_error(s->log, "accept-failed", e, NULL);
			break;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			(void)close(fd);
			break;
		}
		c->srv = s;
		c->defer.release = conn_release;
		gdn_watch_init(&c->w, fd, on_conn, c);
		if (gdn_loop_watch(&s->loop, &c->w, EPOLLIN) < 0) {
			(void)close(fd);
			free(c);
			break;
		}
		c->next = s->conns;
		s->conns = c;
		s->n_conns++;
	}
	listen_watch(s);
}

static void on_signal(struct gdn_loop *l, const struct signalfd_siginfo *si, void *data)
{
	struct nps_server *s = data;
	struct nps_conn *next;
	char sig[16];

	(void)l;
	(void)snprintf(sig, sizeof(sig), "%u", si->ssi_signo);
	gdn_log_info(s->log, "stopping", "signal", sig, NULL);
	s->stopping = true;
	gdn_listener_close(&s->loop, &s->listen);
	/* idle connections go now, the others once their plugin is done */
	for (struct nps_conn *c = s->conns; c; c = next) {
		next = c->next;
		if (!c->run)
			conn_close(s, c);
	}
}

static void prepare(struct gdn_loop *l, void *data)
{
	struct nps_server *s = data;

	if (s->stopping && s->n_conns == 0)
		gdn_loop_stop(l);
}

static void server_free(struct nps_server *s)
{
	struct nps_conn *next;

	for (struct nps_conn *c = s->conns; c; c = next) {
		next = c->next;
		if (c->run)
			nps_run_abandon(c->run);
		c->run = NULL;
		conn_close(s, c);
	}
	gdn_listener_close(&s->loop, &s->listen);
	gdn_loop_free(&s->loop);
	gdn_log_free(s->log);
}

int nps_serve(const struct nps_serve_opts *o, struct gdn_err **err)
{
	static const int signals[] = {SIGTERM, SIGINT};
	struct nps_server s = {.opts = o};
	char mode[8];
	int r;

	s.loop.epfd = s.loop.sig.fd = -1;
	gdn_watch_init(&s.listen.watch, -1, on_listen, &s);
	s.log = gdn_log_session(gdn_log_root(), "serve", NULL);
	/* SIGPIPE: a client that hangs up must cost us a write error, not our life */
	(void)signal(SIGPIPE, SIG_IGN);
	r = gdn_loop_init(&s.loop, err);
	if (r >= 0)
		r = gdn_loop_signals(&s.loop, signals, GDN_ARRAY_SIZE(signals), on_signal, &s, err);
	if (r >= 0)
		r = gdn_listener_open(&s.loop, &s.listen, o->socket_path, o->socket_mode, err);
	if (r < 0) {
		server_free(&s);
		return r;
	}
	(void)snprintf(mode, sizeof(mode), "%04o", o->socket_mode);
	gdn_log_info(s.log, "listening", "socket", o->socket_path, "mode", mode, "plugin",
		     o->plugin_path, "timeout", o->timeout_text, NULL);
	s.loop.prepare = prepare;
	s.loop.prepare_data = &s;
	r = gdn_loop_run(&s.loop, err);
	if (r >= 0)
		gdn_log_info(s.log, "stopped", NULL);
	server_free(&s);
	return r < 0 ? r : 0;
}
