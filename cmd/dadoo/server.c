/* dadoo.sock: a SOCK_SEQPACKET socket (0600) in the process dir on which guardian sends one
 * request per packet, {"op":…,"v":N,…} with fds attached (attach, stream, signal, state), and
 * gets one reply packet in the envelope of garden-ipc(5): {"ok":true,"v":1,…} or
 * {"error":{"type":…,"message":…},"v":1}. lib/ipc binds it through /proc/self/fd/<dirfd>/ when
 * a long depot path would not fit the 108-byte sun_path. */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include "lib/depot.h"
#include "lib/fs.h"
#include "lib/ipc.h"
#include "lib/path.h"
#include "cmd/dadoo/dadoo.h"

#define BACKLOG 16

int dd_server_listen(struct dd_state *s, struct gdn_err **err)
{
	_cleanup_free_ char *path = gdn_path_join(s->dir, GDN_PROC_DADOO_SOCK);
	int fd;

	if (!path)
		return gdn_err_set(err, ENOMEM, GDN_PROC_DADOO_SOCK);
	fd = gdn_ipc_listen(path, SOCK_SEQPACKET, 0600, GDN_IPC_NONBLOCK, err);
	if (fd < 0)
		return fd;
	s->listen.fd = fd;
	dd_watch_set(s, &s->listen, EPOLLIN);
	return 0;
}

void dd_server_adopt(struct dd_state *s, int fd)
{
	struct dd_client *c = calloc(1, sizeof(*c));

	if (!c || gdn_fd_set_nonblock(fd, true) < 0) {
		free(c);
		(void)close(fd);
		return;
	}
	gdn_watch_init(&c->w, fd, dd_on_client, c);
	c->next = s->clients;
	s->clients = c;
	dd_watch_set(s, &c->w, EPOLLIN);
}

void dd_server_on_listen(struct dd_state *s)
{
	for (;;) {
		_cleanup_err_ struct gdn_err *err = NULL;
		int fd = gdn_ipc_accept(s->listen.fd, GDN_IPC_NONBLOCK, &err);

		if (fd == -EACCES) {
			gdn_log_info(s->log, "peer-refused", "error", gdn_err_str(err), NULL);
			continue;
		}
		if (fd < 0)
			return;
		dd_server_adopt(s, fd);
	}
}

static void close_fds(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (fds[i] >= 0)
			(void)close(fds[i]);
}

/* Sends msg (taken), or closes the connection. */
static void send_reply(struct dd_state *s, struct dd_client *c, json_t *msg)
{
	_cleanup_err_ struct gdn_err *err = NULL;

	if (!msg || gdn_ipc_send(c->w.fd, msg, NULL, 0, &err) < 0) {
		gdn_log_info(s->log, "reply-failed", "error", gdn_err_str(err), NULL);
		dd_watch_close(s, &c->w);
	}
	json_decref(msg);
}

/* {"ok":true,"v":1,...result} (result taken; may be NULL). */
static void reply_ok(struct dd_state *s, struct dd_client *c, json_t *result)
{
	json_t *msg = gdn_ipc_ok_new(DD_PROTO_VERSION);

	if (msg && result && json_object_update(msg, result) < 0)
		msg = (json_decref(msg), NULL);
	json_decref(result);
	send_reply(s, c, msg);
}

/* The error envelope; a version-0 request gets version 0's {"error":"<text>"}. */
static void reply_error(struct dd_state *s, struct dd_client *c, int v, const struct gdn_err *err)
{
	if (v == 0)
		send_reply(
		    s, c,
		    json_pack("{s:s, s:i}", "error", gdn_err_str(err), "v", DD_PROTO_VERSION));
	else
		send_reply(s, c, gdn_ipc_error_new(err, DD_PROTO_VERSION));
}

static void handle(struct dd_state *s, struct dd_client *c, const json_t *msg, int *fds,
		   size_t nfds)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	struct dd_attach *a = NULL;
	struct dd_request req;

	if (dd_request_parse(msg, &req, &err) < 0) {
		close_fds(fds, nfds);
		gdn_log_error(s->log, "bad-request", err, NULL);
		reply_error(s, c, req.v, err);
		return;
	}
	switch (req.op) {
	/* guardian waits for the reply: it goes out before the client is written to, which may
	 * wake the client and delay us */
	case DD_OP_ATTACH:
		/* guardian names the process of this dir; anything else is not ours */
		if (req.process_id && strcmp(req.process_id, s->process_id) != 0) {
			close_fds(fds, nfds);
			(void)gdn_err_process_not_found(&err, req.process_id);
			reply_error(s, c, req.v, err);
			return;
		}
		if (dd_attach_new(s, &req, fds, nfds, &a, &err) < 0) {
			gdn_log_error(s->log, "attach-failed", err, NULL);
			reply_error(s, c, req.v, err);
			return;
		}
		reply_ok(s, c, NULL);
		dd_attach_begin(s, a);
		return;
	case DD_OP_STREAM:
		if (nfds != 1) {
			close_fds(fds, nfds);
			(void)gdn_err_kind(&err, GDN_ERR_GENERIC, EINVAL,
					   "stream: expected one fd");
			reply_error(s, c, req.v, err);
			return;
		}
		reply_ok(s, c, NULL);
		dd_attach_stream(s, &req, fds[0]);
		return;
	case DD_OP_SIGNAL:
		close_fds(fds, nfds);
		dd_signal_process(s, req.signal);
		break;
	case DD_OP_STATE:
		close_fds(fds, nfds);
		reply_ok(s, c,
			 json_pack("{s:i, s:b, s:i}", "pid", (json_int_t)s->pid, "exited",
				   s->finished, "exit_status", s->finished ? s->status : 0));
		return;
	}
	reply_ok(s, c, NULL);
}

void dd_server_on_client(struct dd_state *s, struct dd_client *c, uint32_t events)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	json_auto_t *msg = NULL;
	int fds[GDN_IPC_MAX_FDS];
	size_t nfds = 0;
	int r;

	(void)events;
	r = gdn_ipc_recv(c->w.fd, &msg, fds, &nfds, &err);
	if (r == -EAGAIN)
		return;
	if (r <= 0) {
		if (r < 0)
			gdn_log_info(s->log, "client-failed", "error", gdn_err_str(err), NULL);
		dd_watch_close(s, &c->w);
		return;
	}
	handle(s, c, msg, fds, nfds);
}

void dd_server_gc(struct dd_state *s)
{
	struct dd_client **pp = &s->clients;

	while (*pp) {
		struct dd_client *c = *pp;

		if (c->w.fd >= 0) {
			pp = &c->next;
			continue;
		}
		*pp = c->next;
		free(c);
	}
}

void dd_server_close(struct dd_state *s)
{
	for (struct dd_client *c = s->clients; c; c = c->next)
		dd_watch_close(s, &c->w);
	dd_server_gc(s);
	dd_watch_close(s, &s->listen);
}
