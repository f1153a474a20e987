#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "lib/errwire.h"
#include "lib/fs.h"
#include "lib/util.h"
#include "cmd/guardian/dadoo_client.h"
#include "cmd/guardian/dadoo_launch.h"
#include "cmd/guardian/files.h"
#include "cmd/guardian/server.h"

/* At this many connections the one that has waited longest for a request is closed to make room
 * (so that one local client holding idle connections cannot lock everybody else out). */
#define MAX_CONNS 4096

static void rewatch(struct gd_server *s, struct gd_conn *c, uint32_t events)
{
	(void)gdn_loop_watch(&s->loop, &c->w, events);
}

static void on_listener(struct gdn_loop *l, struct gdn_watch *w, uint32_t events);
static void on_conn(struct gdn_loop *l, struct gdn_watch *w, uint32_t events);
static void on_lease(struct gdn_loop *l, struct gdn_watch *w, uint32_t events);
static void on_signal(struct gdn_loop *l, const struct signalfd_siginfo *si, void *data);
static void on_reaper(struct gdn_loop *l, struct gdn_timer *t);
static void on_standby(struct gdn_loop *l, struct gdn_timer *t);

/* Refuses to replace the socket of a guardian that is still serving on it. */
static int listen_unix(const char *path, unsigned mode, struct gdn_err **err)
{
	return gdn_ipc_listen(path, SOCK_STREAM, mode, GDN_IPC_NONBLOCK, err);
}

/* flag: the option that named ip, for the message */
static int listen_tcp(const char *flag, const char *ip, uint16_t port, struct gdn_err **err)
{
	struct sockaddr_in6 sa6 = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
	struct sockaddr_in sa4 = {.sin_family = AF_INET, .sin_port = htons(port)};
	_cleanup_close_ int fd = -1;
	struct sockaddr *sa;
	socklen_t len;
	int one = 1;

	if (inet_pton(AF_INET, ip, &sa4.sin_addr) == 1) {
		sa = (struct sockaddr *)&sa4;
		len = sizeof(sa4);
	} else if (inet_pton(AF_INET6, ip, &sa6.sin6_addr) == 1) {
		sa = (struct sockaddr *)&sa6;
		len = sizeof(sa6);
	} else {
		return gdn_err_set(err, EINVAL, "%s '%s' is not an IP address", flag, ip);
	}
	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return gdn_err_set(err, errno, "socket");
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, sa, len) < 0)
		return gdn_err_set(err, errno, "%s: bind %s:%u", flag, ip, port);
	if (listen(fd, 512) < 0)
		return gdn_err_set(err, errno, "%s: listen %s:%u", flag, ip, port);
	return gdn_steal_fd(&fd);
}

static int add_listener(struct gd_server *s, int fd, const char *what, bool debug)
{
	struct gd_listener *l = &s->listeners[s->n_listeners++];

	gdn_watch_init(&l->w, fd, on_listener, l);
	l->what = what;
	l->debug = debug;
	return gdn_loop_watch(&s->loop, &l->w, EPOLLIN);
}

/* The address the debug server got (its port may have been 0: the kernel's pick). */
static void log_debug_address(struct gd_server *s, int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char ip[INET6_ADDRSTRLEN] = "", addr[INET6_ADDRSTRLEN + 16];
	unsigned port = 0;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return;
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
		(void)inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
		port = ntohs(in->sin_port);
		(void)snprintf(addr, sizeof(addr), "%s:%u", ip, port);
	} else {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
		(void)inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
		port = ntohs(in6->sin6_port);
		(void)snprintf(addr, sizeof(addr), "[%s]:%u", ip, port);
	}
	gdn_log_info(s->log, "debug-server.listening", "address", addr, NULL);
}

int gd_server_init(struct gd_server *s, const struct gd_config *cfg, struct gdn_err **err)
{
	static const int signals[] = {SIGTERM, SIGINT};
	int fd, r;

	memset(s, 0, sizeof(*s));
	s->cfg = cfg;
	s->loop.epfd = s->loop.sig.fd = -1;
	s->standby_fd = -1;
	s->lock_fd = -1;
	s->image_sizes = json_object();
	if (!s->image_sizes)
		return gdn_err_set(err, ENOMEM, "server");
	s->log = gdn_log_root();
	gdn_timer_init(&s->reaper, on_reaper, s);
	gdn_timer_init(&s->standby, on_standby, s);
	/* Stream ids must not repeat across restarts: dadoos outlive guardian and still hold
	 * attachments under the ids of the previous run. */
	s->next_stream_id = gdn_now_real_ns() / 1000;
	if ((r = gdn_loop_init(&s->loop, err)) < 0)
		return r;

	/* SIGPIPE: a client that hangs up must cost us a write error, not our life. */
	(void)signal(SIGPIPE, SIG_IGN);
	r = gdn_loop_signals(&s->loop, signals, GDN_ARRAY_SIZE(signals), on_signal, s, err);
	if (r < 0)
		return r;

	if (cfg->bind_socket) {
		fd = listen_unix(cfg->bind_socket, cfg->socket_mode, err);
		if (fd < 0)
			return fd;
		if ((r = add_listener(s, fd, cfg->bind_socket, false)) < 0)
			return gdn_err_set(err, -r, "epoll_ctl");
	}
	if (cfg->bind_ip) {
		fd = listen_tcp("--bind-ip", cfg->bind_ip, cfg->bind_port, err);
		if (fd < 0)
			return fd;
		if ((r = add_listener(s, fd, cfg->bind_ip, false)) < 0)
			return gdn_err_set(err, -r, "epoll_ctl");
	}
	if (cfg->debug_bind_ip) {
		fd = listen_tcp("--debug-bind-ip", cfg->debug_bind_ip, cfg->debug_bind_port, err);
		if (fd < 0)
			return fd;
		log_debug_address(s, fd);
		if ((r = add_listener(s, fd, cfg->debug_bind_ip, true)) < 0)
			return gdn_err_set(err, -r, "epoll_ctl");
	}
	return 0;
}

static void conn_release(struct gdn_defer *d)
{
	struct gd_conn *c = (struct gd_conn *)((char *)d - offsetof(struct gd_conn, defer));

	gdn_buf_free(&c->in);
	gdn_buf_free(&c->out);
	gdn_buf_free(&c->body);
	gdn_http_req_free(&c->req);
	gdn_log_free(c->log);
	free(c);
}

/* Closes the connection at once; its memory goes at the end of the round. */
static void conn_free(struct gd_server *s, struct gd_conn *c)
{
	if (c->fd < 0)
		return; /* closed earlier in this round */
	for (struct gd_conn **p = &s->conns; *p; p = &(*p)->next) {
		if (*p == c) {
			*p = c->next;
			break;
		}
	}
	s->n_conns--;
	if (c->paused)
		gd_ctr_resume(c->paused);
	/* A worker may still point at this connection; it then answers nobody. */
	for (struct gd_worker *w = s->workers; w; w = w->next)
		if (w->conn == c)
			w->conn = NULL;
	gd_call_forget_conn(s, c);
	/* gdn_loop_close leaves the epoll set explicitly: epoll keys on the open file, which lives
	 * on where the fd was handed over (to a dadoo). */
	gdn_loop_timer_cancel(&s->loop, &c->deadline);
	gdn_loop_close(&s->loop, &c->w);
	gdn_loop_defer_free(&s->loop, &c->defer);
}

/* A connection that waits for (the rest of) a request head may be closed to make room. */
static bool evictable(const struct gd_conn *c)
{
	return c->state == GD_CONN_READING && !c->have_head;
}

/* Closes the connection that has waited longest for a request: an idle one (nothing of a
 * request sent yet) if there is one, else the one that has been sending its head longest.
 * Connections with a request in progress, being answered or handed to a dadoo (hijacked
 * streams: not ours any more) are never chosen. false if there was none. */
static bool evict_oldest(struct gd_server *s)
{
	struct gd_conn *pick = NULL;

	for (int pass = 0; pass < 2 && !pick; pass++)
		for (struct gd_conn *c = s->conns; c; c = c->next)
			if (evictable(c) && (pass == 1 || c->in.len == 0) &&
			    (!pick || c->idle_since_ns < pick->idle_since_ns))
				pick = c;
	if (!pick)
		return false;
	gdn_log_debug(s->log, "connection.evicted", "reason", "connection limit", NULL);
	conn_free(s, pick);
	return true;
}

/* Closes c `limit` ns from now unless it gets further (0: no limit). */
static void conn_deadline(struct gd_server *s, struct gd_conn *c, uint64_t limit)
{
	if (!limit)
		gdn_loop_timer_cancel(&s->loop, &c->deadline);
	else if (gdn_loop_timer_at(&s->loop, &c->deadline, gdn_now_mono_ns() + limit) < 0)
		gdn_log_error(s->log, "connection.timer-failed", NULL, NULL);
}

static void on_conn_deadline(struct gdn_loop *l, struct gdn_timer *t)
{
	struct gd_server *s = gd_server_of(l);
	struct gd_conn *c = t->data;

	if (c->state != GD_CONN_READING)
		return;
	gdn_log_debug(s->log, "connection.timed-out", "waiting-for",
		      c->idle ? "request" : "request head", NULL);
	conn_free(s, c);
}

/* The connection starts waiting for a request: after accept (header timeout) or, keep-alive,
 * after a response (idle timeout until its first byte, then the header timeout). */
static void conn_wait_request(struct gd_server *s, struct gd_conn *c, bool idle)
{
	uint64_t now = gdn_now_mono_ns();
	uint64_t limit = idle ? s->cfg->idle_timeout_ns : s->cfg->read_header_timeout_ns;

	c->idle = idle;
	c->idle_since_ns = now;
	conn_deadline(s, c, limit);
}

/* A connection closed to make room is released after the round (later events may name it). */
static void accept_conns(struct gd_server *s, struct gd_listener *l)
{
	bool evicted_for_fds = false;

	for (;;) {
		int fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		struct gd_conn *c;

		if (fd < 0) {
			/* Out of fds: make room as at the connection limit, once per batch. */
			if ((errno == EMFILE || errno == ENFILE) && !evicted_for_fds &&
			    evict_oldest(s)) {
				evicted_for_fds = true;
				continue;
			}
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
				struct gdn_err *e = NULL;
				gdn_err_set(&e, errno, "accept on '%s'", l->what);
				gdn_log_error(s->log, "accept-failed", e, NULL);
				gdn_err_free(e);
			}
			return;
		}
		if (s->n_conns >= MAX_CONNS) {
			if (!evict_oldest(s)) {
				(void)close(fd);
				continue;
			}
		}
		if (!(c = calloc(1, sizeof(*c)))) {
			(void)close(fd);
			continue;
		}
		gdn_watch_init(&c->w, fd, on_conn, c);
		c->defer.release = conn_release;
		c->state = GD_CONN_READING;
		c->debug = l->debug;
		gdn_timer_init(&c->deadline, on_conn_deadline, c);
		if (gdn_loop_watch(&s->loop, &c->w, EPOLLIN | EPOLLRDHUP) < 0) {
			(void)close(fd);
			free(c);
			continue;
		}
		c->next = s->conns;
		s->conns = c;
		s->n_conns++;
		conn_wait_request(s, c, false);
	}
}

/* Resets per-request state, keeping unconsumed input for a pipelined next request. */
static void conn_reset_request(struct gd_conn *c)
{
	gdn_http_req_free(&c->req);
	memset(&c->req, 0, sizeof(c->req));
	memset(&c->chunked, 0, sizeof(c->chunked));
	gdn_buf_reset(&c->body);
	c->have_head = false;
	c->log = gdn_log_free(c->log);
}

static void reply_raw_error(struct gd_server *s, struct gd_conn *c, const struct gdn_err *e)
{
	c->keep_alive = false;
	gd_reply_error(s, c, e);
}

/* curl (not the Go client) asks before sending a large body; answering at once saves it a
 * one-second wait. The interim response is tiny, so a short write is not retried. */
static void expect_continue(struct gd_conn *c)
{
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
	const char *expect = gdn_http_header(&c->req, "Expect");

	if (expect && strcasecmp(expect, "100-continue") == 0 && c->req.minor >= 1)
		(void)!write(c->fd, cont, sizeof(cont) - 1);
}

/* Tries to complete the request from buffered input. true when a request was dispatched or
 * the connection was answered with an error. */
static bool conn_parse(struct gd_server *s, struct gd_conn *c)
{
	_cleanup_err_ struct gdn_err *e = NULL;

	if (!c->have_head) {
		if (!gdn_http_head_ready(c->in.data, c->head_scanned, c->in.len)) {
			c->head_scanned = c->in.len;
			return false;
		}
		int n = gdn_http_parse_head(c->in.data, c->in.len, &c->req, &e);
		if (n < 0) {
			reply_raw_error(s, c, e);
			return true;
		}
		if (n == 0) {
			c->head_scanned = c->in.len;
			return false;
		}
		c->head_scanned = 0;
		gdn_buf_consume(&c->in, (size_t)n);
		c->have_head = true;
		conn_deadline(s, c, 0); /* the body has no time limit (Go's ReadTimeout 0) */
		c->keep_alive = c->req.keep_alive;
		if (!c->debug && gd_files_streams_body(c)) {
			/* StreamIn: its worker reads the body, however long (files.h) */
			expect_continue(c);
			c->state = GD_CONN_WAITING;
			rewatch(s, c, EPOLLHUP);
			gd_route(s, c);
			return true;
		}
		if (c->req.has_length && !c->req.chunked && c->req.content_length > GD_MAX_BODY) {
			gdn_err_kind(&e, GDN_ERR_GENERIC, EFBIG,
				     "request body too large: %llu bytes (max %d)",
				     (unsigned long long)c->req.content_length, GD_MAX_BODY);
			e->http_status = 413;
			reply_raw_error(s, c, e);
			return true;
		}
		expect_continue(c);
	}
	if (c->req.chunked) {
		ssize_t n = gdn_chunked_feed(&c->chunked, c->in.data, c->in.len, &c->body, &e);
		if (n < 0) {
			reply_raw_error(s, c, e);
			return true;
		}
		gdn_buf_consume(&c->in, (size_t)n);
		if (c->body.len > GD_MAX_BODY) {
			gdn_err_kind(&e, GDN_ERR_GENERIC, EFBIG,
				     "request body too large (max %d bytes)", GD_MAX_BODY);
			e->http_status = 413;
			reply_raw_error(s, c, e);
			return true;
		}
		if (!c->chunked.done)
			return false;
	} else if (c->req.has_length) {
		size_t want = (size_t)c->req.content_length - c->body.len;
		size_t take = c->in.len < want ? c->in.len : want;
		if (gdn_buf_append(&c->body, c->in.data, take) < 0) {
			gdn_err_set(&e, ENOMEM, "request body");
			reply_raw_error(s, c, e);
			return true;
		}
		gdn_buf_consume(&c->in, take);
		if (c->body.len < c->req.content_length)
			return false;
	}
	c->state = GD_CONN_WAITING;
	/* Only hang-ups matter while the request is handled (level-triggered RDHUP would spin):
	 * EPOLLHUP and EPOLLERR are always reported, so asking for EPOLLHUP keeps just those. */
	rewatch(s, c, EPOLLHUP);
	gd_route(s, c);
	return true;
}

static void conn_flush(struct gd_server *s, struct gd_conn *c)
{
	while (c->out.len > 0) {
		ssize_t n = write(c->fd, c->out.data, c->out.len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				rewatch(s, c, EPOLLOUT | EPOLLRDHUP);
				return;
			}
			conn_free(s, c);
			return;
		}
		gdn_buf_consume(&c->out, (size_t)n);
	}
	if (!c->keep_alive || s->stopping) {
		conn_free(s, c);
		return;
	}
	conn_reset_request(c);
	c->state = GD_CONN_READING;
	conn_wait_request(s, c, true);
	rewatch(s, c, EPOLLIN | EPOLLRDHUP);
	if (c->in.len > 0)
		(void)conn_parse(s, c);
}

static void conn_on_event(struct gd_server *s, struct gd_conn *c, uint32_t events)
{
	if (c->state == GD_CONN_WRITING && (events & EPOLLOUT)) {
		conn_flush(s, c);
		return;
	}
	if (c->state == GD_CONN_WAITING) {
		/* The client went away while a worker runs: the work goes on, the answer is
		 * dropped. */
		if (events & (EPOLLHUP | EPOLLERR))
			conn_free(s, c);
		return;
	}
	if (c->state != GD_CONN_READING)
		return;
	for (;;) {
		char buf[16384];
		ssize_t n = read(c->fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			conn_free(s, c);
			return;
		}
		if (gdn_buf_append(&c->in, buf, (size_t)n) < 0) {
			conn_free(s, c);
			return;
		}
		if (c->idle) {
			/* the first byte of a keep-alive request: now the head has its limit */
			uint64_t hdr = s->cfg->read_header_timeout_ns;

			c->idle = false;
			conn_deadline(s, c, hdr);
		}
		if (conn_parse(s, c))
			return;
		if (c->in.len > GDN_HTTP_MAX_HEAD + GD_MAX_BODY + 65536) {
			conn_free(s, c);
			return;
		}
	}
}

static void queue_response(struct gd_server *s, struct gd_conn *c)
{
	if (c->paused) {
		gd_ctr_resume(c->paused);
		c->paused = NULL;
	}
	c->state = GD_CONN_WRITING;
	conn_flush(s, c);
}

void gd_reply_raw(struct gd_server *s, struct gd_conn *c, const void *data, size_t len)
{
	c->keep_alive = false;
	if (gdn_buf_append(&c->out, data, len) < 0) {
		conn_free(s, c);
		return;
	}
	queue_response(s, c);
}

void gd_conn_close(struct gd_server *s, struct gd_conn *c)
{
	conn_free(s, c);
}

static void lease_release(struct gdn_defer *d)
{
	struct gd_lease *l = (struct gd_lease *)((char *)d - offsetof(struct gd_lease, defer));

	free(l->handle);
	free(l);
}

int gd_lease_new(struct gd_server *s, struct gd_ctr *ctr, struct gdn_err **err)
{
	struct gd_lease *l = calloc(1, sizeof(*l));
	int sv[2];

	if (!l || !(l->handle = strdup(ctr->handle))) {
		free(l);
		return gdn_err_set(err, ENOMEM, "lease");
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		int r = gdn_err_set(err, errno, "socketpair");
		free(l->handle);
		free(l);
		return r;
	}
	gdn_watch_init(&l->w, sv[0], on_lease, l);
	l->defer.release = lease_release;
	l->serial = ctr->serial;
	(void)gdn_loop_watch(&s->loop, &l->w, EPOLLRDHUP);
	l->next = s->leases;
	s->leases = l;
	gd_ctr_pause(ctr);
	return sv[1];
}

static void lease_end(struct gd_server *s, struct gd_lease *l)
{
	struct gd_ctr *ctr = gd_registry_find(&s->reg, l->handle);

	if (ctr && ctr->serial == l->serial) {
		gd_ctr_resume(ctr);
		/* the dadoo may have hung up by dying: its process must not run on unseen */
		if (!s->stopping && ctr->state == GD_CTR_ACTIVE)
			gd_processes_check_shims(s, ctr->handle);
	}
	for (struct gd_lease **p = &s->leases; *p; p = &(*p)->next) {
		if (*p == l) {
			*p = l->next;
			break;
		}
	}
	gdn_loop_close(&s->loop, &l->w);
	gdn_loop_defer_free(&s->loop, &l->defer);
}

static void on_lease(struct gdn_loop *l, struct gdn_watch *w, uint32_t events)
{
	(void)events;
	lease_end(gd_server_of(l), w->data);
}

void gd_reply_body(struct gd_server *s, struct gd_conn *c, int status, const char *content_type,
		   const void *body, size_t len)
{
	if (gdn_http_write_response(&c->out, status, content_type, body, len, c->keep_alive) < 0) {
		conn_free(s, c);
		return;
	}
	queue_response(s, c);
}

void gd_reply_json(struct gd_server *s, struct gd_conn *c, int status, json_t *body)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;

	text = gdn_json_line(body, &len);
	if (!text) {
		conn_free(s, c);
		return;
	}
	gd_reply_body(s, c, status, "application/json", text, len);
}

json_t *gd_error_json(const struct gdn_err *e);
json_t *gd_error_json(const struct gdn_err *e)
{
	return gdn_err_to_garden_json(e);
}

void gd_reply_error(struct gd_server *s, struct gd_conn *c, const struct gdn_err *e)
{
	json_auto_t *body = gd_error_json(e);
	int status = gdn_err_http_status(e);

	/* A request we could not parse leaves the stream in an unknown place. */
	char d[GDN_LOG_DURATION_MAX];

	if (!c->have_head || status == 413)
		c->keep_alive = false;
	/* a request's failure says how long it took (from its route's session: since its head and
	 * body were read) */
	if (c->log)
		gdn_log_error(c->log, "failed", e, GDN_LOG_DURATION,
			      gdn_log_duration(gdn_log_started(c->log), d), NULL);
	else
		gdn_log_error(s->log, "failed", e, NULL);
	gd_reply_json(s, c, status, body);
}

void gd_reply_text(struct gd_server *s, struct gd_conn *c, int status, const char *text,
		   const char *extra_header)
{
	struct gdn_buf head = {0};

	c->keep_alive = false;
	if (gdn_http_write_response(&head, status, "text/plain; charset=utf-8", text, strlen(text),
				    false) < 0) {
		gdn_buf_free(&head);
		conn_free(s, c);
		return;
	}
	if (extra_header) {
		/* Insert after the status line. */
		char *eol = strstr(head.data, "\r\n");
		size_t at = eol ? (size_t)(eol - head.data) + 2 : 0;
		(void)gdn_buf_append(&c->out, head.data, at);
		(void)gdn_buf_puts(&c->out, extra_header);
		(void)gdn_buf_puts(&c->out, "\r\n");
		(void)gdn_buf_append(&c->out, head.data + at, head.len - at);
	} else {
		(void)gdn_buf_append(&c->out, head.data, head.len);
	}
	gdn_buf_free(&head);
	queue_response(s, c);
}

static void stop_listening(struct gd_server *s)
{
	for (size_t i = 0; i < s->n_listeners; i++)
		gdn_loop_close(&s->loop, &s->listeners[i].w);
	if (s->cfg->bind_socket)
		(void)unlink(s->cfg->bind_socket);
	s->n_listeners = 0;
	/* Connections still sending a request are closed; requests already dispatched are
	 * finished and answered. */
	for (struct gd_conn *c = s->conns, *next; c; c = next) {
		next = c->next;
		if (c->state == GD_CONN_READING)
			conn_free(s, c);
	}
}

static void on_signal(struct gdn_loop *l, const struct signalfd_siginfo *si, void *data)
{
	struct gd_server *s = data;

	(void)l;
	if (si->ssi_signo != SIGTERM && si->ssi_signo != SIGINT)
		return;
	gdn_log_info(s->log, "stopping", "signal", si->ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT",
		     NULL);
	if (!s->stopping) {
		s->stopping = true;
		stop_listening(s);
	}
}

static void on_listener(struct gdn_loop *l, struct gdn_watch *w, uint32_t events)
{
	(void)events;
	accept_conns(gd_server_of(l), w->data);
}

static void on_conn(struct gdn_loop *l, struct gdn_watch *w, uint32_t events)
{
	conn_on_event(gd_server_of(l), w->data, events);
}

static void on_reaper(struct gdn_loop *l, struct gdn_timer *t)
{
	struct gd_server *s = t->data;

	(void)l;
	if (!s->stopping)
		gd_reaper_fire(s);
}

/* The loop has had nothing to do for GD_STANDBY_IDLE_MS (every round pushes this timer out). */
static void on_standby(struct gdn_loop *l, struct gdn_timer *t)
{
	struct gd_server *s = t->data;

	(void)l;
	s->standby_wanted = false;
	gd_dadoo_standby_refill(s);
}

/* Before every wait: stop once a stopping server has nothing left, and aim the timers at the
 * nearest grace deadline and (while a standby dadoo is wanted) at an idle moment. */
static void prepare(struct gdn_loop *l, void *data)
{
	struct gd_server *s = data;
	uint64_t next;

	if (s->stopping && !s->workers && !s->conns) {
		gdn_loop_stop(l);
		return;
	}
	next = s->stopping ? UINT64_MAX : gd_reaper_next(s);
	if (next == UINT64_MAX)
		gdn_loop_timer_cancel(l, &s->reaper);
	else
		(void)gdn_loop_timer_at(l, &s->reaper, next);
	if (s->standby_wanted)
		(void)gdn_loop_timer_in(l, &s->standby, GD_STANDBY_IDLE_MS);
	else
		gdn_loop_timer_cancel(l, &s->standby);
}

int gd_server_run(struct gd_server *s, struct gdn_err **err)
{
	int r;

	gdn_log_info(s->log, "started", NULL);
	s->loop.prepare = prepare;
	s->loop.prepare_data = s;
	r = gdn_loop_run(&s->loop, err);
	if (r < 0)
		return r;
	gdn_log_info(s->log, "stopped", NULL);
	return 0;
}

void gd_server_free(struct gd_server *s)
{
	gd_dadoo_standby_release(s);
	gd_call_free_all(s);
	while (s->leases)
		lease_end(s, s->leases);
	while (s->conns)
		conn_free(s, s->conns);
	for (size_t i = 0; i < s->n_listeners; i++)
		gdn_loop_close(&s->loop, &s->listeners[i].w);
	gd_registry_free(&s->reg);
	json_decref(s->image_sizes);
	s->image_sizes = NULL;
	gdn_loop_timer_cancel(&s->loop, &s->reaper);
	gdn_loop_timer_cancel(&s->loop, &s->standby);
	gdn_loop_free(&s->loop);
}
