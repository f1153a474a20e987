/* dadoo.sock: a SOCK_SEQPACKET socket in the process dir on which guardian sends one JSON request
 * per packet, with fds attached (attach, stream, signal, state), and gets one reply packet,
 * {"ok":true,...} or {"error":"<text>"}. Bound through /proc/self/fd/<dirfd>/ so that a long
 * depot path does not hit the 108-byte sun_path limit. */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include "lib/fs.h"
#include "lib/ipc.h"
#include "cmd/dadoo/dadoo.h"

#define BACKLOG 16

int dd_server_listen(struct dd_state *s, struct gdn_err **err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = -1;

	(void)snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/dadoo.sock", s->dirfd);
	(void)unlinkat(s->dirfd, "dadoo.sock", 0);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return gdn_err_set(err, errno, "socket");
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return gdn_err_set(err, errno, "bind '%s/dadoo.sock'", s->dir);
	if (listen(fd, BACKLOG) < 0)
		return gdn_err_set(err, errno, "listen '%s/dadoo.sock'", s->dir);
	s->listen.fd = gdn_steal_fd(&fd);
	dd_watch_set(s, &s->listen, EPOLLIN);
	return 0;
}

static bool peer_allowed(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return false;
	return cred.uid == 0 || cred.uid == geteuid();
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
		int fd = accept4(s->listen.fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (fd < 0)
			return;
		if (!peer_allowed(fd)) {
			gdn_log_info(s->log, "peer-refused", NULL);
			(void)close(fd);
			continue;
		}
		dd_server_adopt(s, fd);
	}
}

static void close_fds(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (fds[i] >= 0)
			(void)close(fds[i]);
}

static void reply(struct dd_state *s, struct dd_client *c, json_t *msg)
{
	_cleanup_err_ struct gdn_err *err = NULL;

	if (!msg || gdn_ipc_send(c->w.fd, msg, NULL, 0, &err) < 0) {
		gdn_log_info(s->log, "reply-failed", "error", gdn_err_str(err), NULL);
		dd_watch_close(s, &c->w);
	}
	json_decref(msg);
}

static void reply_error(struct dd_state *s, struct dd_client *c, const struct gdn_err *err)
{
	reply(s, c, json_pack("{s:s}", "error", gdn_err_str(err)));
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
		reply_error(s, c, err);
		return;
	}
	switch (req.op) {
	/* guardian waits for the reply: it goes out before the client is written to, which may
	 * wake the client and delay us */
	case DD_OP_ATTACH:
		if (dd_attach_new(s, &req, fds, nfds, &a, &err) < 0) {
			gdn_log_error(s->log, "attach-failed", err, NULL);
			reply_error(s, c, err);
			return;
		}
		reply(s, c, json_pack("{s:b}", "ok", 1));
		dd_attach_begin(s, a);
		return;
	case DD_OP_STREAM:
		if (nfds != 1) {
			close_fds(fds, nfds);
			(void)gdn_err_kind(&err, GDN_ERR_GENERIC, EINVAL,
					   "stream: expected one fd");
			reply_error(s, c, err);
			return;
		}
		reply(s, c, json_pack("{s:b}", "ok", 1));
		dd_attach_stream(s, &req, fds[0]);
		return;
	case DD_OP_SIGNAL:
		close_fds(fds, nfds);
		dd_signal_process(s, req.signal);
		break;
	case DD_OP_STATE:
		close_fds(fds, nfds);
		reply(s, c,
		      json_pack("{s:b, s:i, s:b, s:i}", "ok", 1, "pid", (json_int_t)s->pid,
				"exited", s->finished, "exit_status", s->finished ? s->status : 0));
		return;
	}
	reply(s, c, json_pack("{s:b}", "ok", 1));
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
