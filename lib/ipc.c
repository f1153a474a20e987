/* NDJSON framing over pipes and sockets, fds over SEQPACKET: see ipc.h. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include "lib/errwire.h"
#include "lib/ipc.h"
#include "lib/util.h"
#include "lib/fs.h"

/* Reads happen in slices this big, which bounds the memmove per consumed line. */
#define LINES_SLICE (16 * 1024)

union fd_cmsg {
	struct cmsghdr h;
	char b[CMSG_SPACE(sizeof(int) * GDN_IPC_MAX_FDS)];
};

char *gdn_ipc_encode(json_t *msg, size_t *ret_len)
{
	/* The framing carries objects; gdn_json_line would also encode bare values. */
	if (!json_is_object(msg))
		return NULL;
	return gdn_json_line(msg, ret_len);
}

/* SOCK_* of fd, or -1 when fd is not a socket; -errno on other failures. */
static int sock_type(int fd)
{
	int type = 0;
	socklen_t len = sizeof(type);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
		return errno == ENOTSOCK ? -1 : -errno;
	return type;
}

static void close_fds(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (fds[i] >= 0)
			(void)close(fds[i]);
		fds[i] = -1;
	}
}

static int send_packet(int sock, const char *line, size_t len, const int *fds, size_t nfds)
{
	union fd_cmsg cbuf;
	struct iovec iov = {.iov_base = (void *)line, .iov_len = len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	bool retried = false;
	ssize_t n;

	if (nfds > 0) {
		struct cmsghdr *c;

		memset(&cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf.b;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	for (;;) {
		int sz = (int)(len + 64 * 1024);

		do
			n = sendmsg(sock, &mh, MSG_NOSIGNAL);
		while (n < 0 && errno == EINTR);
		if (n >= 0 || errno != EMSGSIZE || retried)
			break;
		/* a packet must fit the send buffer (about 200 KiB by default): grow it once,
		 * past net.core.wmem_max when privileged */
		retried = true;
		if (setsockopt(sock, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) < 0 &&
		    setsockopt(sock, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz)) < 0) {
			errno = EMSGSIZE;
			break;
		}
	}
	if (n < 0)
		return -errno;
	if ((size_t)n != len)
		return -EMSGSIZE;
	return 0;
}

static int send_stream(int sock, const char *line, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = send(sock, line + done, len - done, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		done += (size_t)n;
	}
	return 0;
}

int gdn_ipc_send(int sock, json_t *msg, const int *fds, size_t nfds, struct gdn_err **err)
{
	_cleanup_free_ char *line = NULL;
	size_t len = 0;
	ssize_t w;
	int type, r;

	if (nfds > GDN_IPC_MAX_FDS || (nfds > 0 && !fds))
		return gdn_err_set(err, EINVAL, "ipc send: %zu fds (max %d)", nfds,
				   GDN_IPC_MAX_FDS);
	for (size_t i = 0; i < nfds; i++)
		if (fds[i] < 0)
			return gdn_err_set(err, EBADF, "ipc send: fd #%zu is %d", i, fds[i]);
	line = gdn_ipc_encode(msg, &len);
	if (!line)
		return gdn_err_set(err, EINVAL, "ipc send: cannot encode message");
	if (len - 1 > GDN_IPC_MAX_LINE)
		return gdn_err_set(err, EMSGSIZE, "ipc send: line of %zu bytes (max %d)", len - 1,
				   GDN_IPC_MAX_LINE);
	type = sock_type(sock);
	if (type < -1)
		return gdn_err_set(err, -type, "ipc send: fd %d", sock);
	if (type != SOCK_SEQPACKET && nfds > 0)
		return gdn_err_set(err, EINVAL, "ipc send: fds need a SOCK_SEQPACKET socket");
	switch (type) {
	case SOCK_SEQPACKET:
	case SOCK_DGRAM:
		r = send_packet(sock, line, len, fds, nfds);
		break;
	case SOCK_STREAM:
		r = send_stream(sock, line, len);
		break;
	default:
		w = gdn_fd_write_all(sock, line, len);
		r = w < 0 ? (int)w : 0;
		break;
	}
	if (r < 0)
		return gdn_err_set(err, -r, "ipc send");
	return 0;
}

static int parse_line(const char *data, size_t len, json_t **ret_msg, struct gdn_err **err)
{
	json_error_t jerr;
	json_t *v;

	v = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!v)
		return gdn_err_set(err, EBADMSG, "invalid JSON line: %s", jerr.text);
	*ret_msg = v;
	return 1;
}

ssize_t gdn_ipc_recv_fds(int sock, void *buf, size_t len, int *ret_fds, size_t max_fds,
			 size_t *ret_nfds, struct gdn_err **err)
{
	union fd_cmsg cbuf;
	struct iovec iov = {.iov_base = buf, .iov_len = len};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = cbuf.b,
			    .msg_controllen = sizeof(cbuf.b)};
	int fds[GDN_IPC_MAX_FDS];
	size_t nfds = 0;
	bool bad_cmsg = false, too_many = false;
	ssize_t n;

	*ret_nfds = 0;
	if (max_fds > GDN_IPC_MAX_FDS)
		max_fds = GDN_IPC_MAX_FDS;
	memset(&cbuf, 0, sizeof(cbuf));
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN ? -EAGAIN : gdn_err_set(err, errno, "ipc recv");

	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		size_t cnt;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
		    c->cmsg_len < CMSG_LEN(0)) {
			bad_cmsg = true;
			continue;
		}
		cnt = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < cnt; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (nfds < GDN_IPC_MAX_FDS) {
				fds[nfds++] = fd;
			} else {
				(void)close(fd);
				bad_cmsg = true;
			}
		}
	}
	if (nfds > max_fds)
		too_many = true;
	if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
		close_fds(fds, nfds);
		return gdn_err_set(err, EMSGSIZE, "ipc recv: truncated packet%s",
				   (mh.msg_flags & MSG_CTRUNC) ? " (control data)" : "");
	}
	if (bad_cmsg) {
		close_fds(fds, nfds);
		return gdn_err_set(err, EBADMSG, "ipc recv: unexpected control message");
	}
	if (too_many) {
		close_fds(fds, nfds);
		return gdn_err_set(err, EBADMSG, "ipc recv: %zu unexpected fds", nfds);
	}
	if (n == 0 && nfds > 0) {
		close_fds(fds, nfds);
		return gdn_err_set(err, EBADMSG, "ipc recv: fds without a message");
	}
	if (nfds > 0)
		memcpy(ret_fds, fds, sizeof(int) * nfds);
	*ret_nfds = nfds;
	return n;
}

int gdn_ipc_recv(int sock, json_t **ret_msg, int *ret_fds, size_t *ret_nfds, struct gdn_err **err)
{
	_cleanup_free_ char *buf = NULL;
	int fds[GDN_IPC_MAX_FDS];
	size_t nfds = 0;
	ssize_t n;
	int r;

	*ret_msg = NULL;
	if (ret_nfds)
		*ret_nfds = 0;
	buf = malloc(GDN_IPC_MAX_LINE + 1);
	if (!buf)
		return gdn_err_set(err, ENOMEM, "ipc recv");
	n = gdn_ipc_recv_fds(sock, buf, GDN_IPC_MAX_LINE + 1, fds, ret_fds ? GDN_IPC_MAX_FDS : 0,
			     &nfds, err);
	if (n == -EAGAIN)
		return gdn_err_set(err, EAGAIN, "ipc recv");
	if (n <= 0)
		return (int)n;
	if (buf[n - 1] != '\n') {
		close_fds(fds, nfds);
		return gdn_err_set(err, EBADMSG, "ipc recv: message does not end in a newline");
	}
	r = parse_line(buf, (size_t)n - 1, ret_msg, err);
	if (r < 0) {
		close_fds(fds, nfds);
		return r;
	}
	if (ret_fds)
		memcpy(ret_fds, fds, sizeof(int) * nfds);
	if (ret_nfds)
		*ret_nfds = nfds;
	return 1;
}

ssize_t gdn_lines_fill(struct gdn_lines *r, int fd)
{
	char tmp[LINES_SLICE];
	ssize_t n;
	int e;

	do
		n = read(fd, tmp, sizeof(tmp));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	if (n == 0) {
		r->eof = true;
		return 0;
	}
	e = gdn_buf_append(&r->buf, tmp, (size_t)n);
	if (e < 0)
		return e;
	return n;
}

int gdn_lines_next(struct gdn_lines *r, json_t **ret_msg, struct gdn_err **err)
{
	size_t max = r->max ? r->max : GDN_IPC_MAX_LINE;

	*ret_msg = NULL;
	for (;;) {
		const char *data = r->buf.data;
		const char *nl = data ? memchr(data, '\n', r->buf.len) : NULL;
		size_t ll;
		int ret;

		if (!nl) {
			if (r->buf.len > max) {
				gdn_buf_reset(&r->buf);
				return gdn_err_set(err, EBADMSG, "line longer than %zu bytes", max);
			}
			if (!r->eof || r->buf.len == 0)
				return 0;
			/* an unterminated last line before EOF */
			ll = r->buf.len;
		} else {
			ll = (size_t)(nl - data);
		}
		if (ll > max) {
			gdn_buf_consume(&r->buf, ll + 1);
			return gdn_err_set(err, EBADMSG, "line longer than %zu bytes", max);
		}
		if (ll == 0 || (ll == 1 && data[0] == '\r')) {
			gdn_buf_consume(&r->buf, ll + 1);
			continue;
		}
		ret = parse_line(data, ll, ret_msg, err);
		gdn_buf_consume(&r->buf, ll + 1);
		return ret;
	}
}

void gdn_lines_free(struct gdn_lines *r)
{
	gdn_buf_free(&r->buf);
	r->eof = false;
}

/* Reads up to and including the next '\n' without consuming anything after it: a stream socket
 * is peeked at in slices; a pipe is read byte by byte, as there is nowhere to keep what follows
 * the line. */
static int read_line_fd(int fd, bool peek, struct gdn_buf *out, bool *ret_eof)
{
	char tmp[LINES_SLICE];

	for (;;) {
		ssize_t n = peek ? recv(fd, tmp, sizeof(tmp), MSG_PEEK) : read(fd, tmp, 1);
		const char *nl;
		size_t take;
		int r;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0) {
			*ret_eof = true;
			return 0;
		}
		nl = memchr(tmp, '\n', (size_t)n);
		take = nl ? (size_t)(nl - tmp) + 1 : (size_t)n;
		if (peek && (n = gdn_fd_read_all(fd, tmp, take)) < 0)
			return (int)n;
		r = gdn_buf_append(out, tmp, (size_t)n);
		if (r < 0)
			return r;
		if ((size_t)n < take) {
			*ret_eof = true;
			return 0;
		}
		if (nl)
			return 0;
		if (out->len > GDN_IPC_MAX_LINE + 1)
			return -EMSGSIZE;
	}
}

int gdn_ipc_read_line(int fd, json_t **ret_msg, struct gdn_err **err)
{
	_cleanup_buf_ struct gdn_buf b = {0};
	int type = sock_type(fd);

	*ret_msg = NULL;
	if (type == SOCK_SEQPACKET)
		return gdn_ipc_recv(fd, ret_msg, NULL, NULL, err);
	for (;;) {
		bool eof = false;
		size_t len;
		int r;

		gdn_buf_reset(&b);
		r = read_line_fd(fd, type == SOCK_STREAM, &b, &eof);
		if (r == -EMSGSIZE)
			return gdn_err_set(err, EBADMSG, "line longer than %d bytes",
					   GDN_IPC_MAX_LINE);
		if (r < 0)
			return gdn_err_set(err, -r, "read line");
		len = b.len;
		if (len > 0 && b.data[len - 1] == '\n')
			len--;
		if (len > 0 && b.data[len - 1] == '\r')
			len--;
		if (len == 0) {
			if (eof)
				return 0;
			continue; /* blank line */
		}
		if (len > GDN_IPC_MAX_LINE)
			return gdn_err_set(err, EBADMSG, "line longer than %d bytes",
					   GDN_IPC_MAX_LINE);
		return parse_line(b.data, len, ret_msg, err);
	}
}

/* --- sockets ----------------------------------------------------------------------------- */

/* sun_path for path: the path itself when it fits, else /proc/self/fd/<dirfd>/<name> with
 * *ret_dirfd an O_PATH fd of its directory (the caller closes it after bind/connect). */
static int make_addr(const char *path, struct sockaddr_un *sa, int *ret_dirfd, struct gdn_err **err)
{
	_cleanup_free_ char *dir = NULL;
	size_t len = strlen(path);
	const char *slash;
	int n;

	*sa = (struct sockaddr_un){.sun_family = AF_UNIX};
	*ret_dirfd = -1;
	if (len == 0)
		return gdn_err_set(err, EINVAL, "empty socket path");
	if (len < sizeof(sa->sun_path)) {
		memcpy(sa->sun_path, path, len + 1);
		return 0;
	}
	slash = strrchr(path, '/');
	if (!slash || !slash[1])
		return gdn_err_set(err, ENAMETOOLONG, "socket path '%s'", path);
	dir = slash == path ? strdup("/") : strndup(path, (size_t)(slash - path));
	if (!dir)
		return gdn_err_set(err, ENOMEM, "socket path '%s'", path);
	*ret_dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (*ret_dirfd < 0)
		return gdn_err_set(err, errno, "open '%s'", dir);
	n = snprintf(sa->sun_path, sizeof(sa->sun_path), "/proc/self/fd/%d/%s", *ret_dirfd,
		     slash + 1);
	if (n < 0 || (size_t)n >= sizeof(sa->sun_path)) {
		(void)close(*ret_dirfd);
		*ret_dirfd = -1;
		return gdn_err_set(err, ENAMETOOLONG, "socket name '%s'", slash + 1);
	}
	return 0;
}

static int new_socket(int type, int flags)
{
	int fd = socket(AF_UNIX,
			type | SOCK_CLOEXEC | ((flags & GDN_IPC_NONBLOCK) ? SOCK_NONBLOCK : 0), 0);

	return fd < 0 ? -errno : fd;
}

int gdn_ipc_listen(const char *path, int type, unsigned mode, int flags, struct gdn_err **err)
{
	_cleanup_close_ int fd = -1, probe = -1, dirfd = -1;
	struct sockaddr_un sa;
	mode_t old;
	int r;

	if ((r = make_addr(path, &sa, &dirfd, err)) < 0)
		return r;
	fd = new_socket(type, flags);
	probe = new_socket(type, 0);
	if (fd < 0 || probe < 0)
		return gdn_err_set(err, -(fd < 0 ? fd : probe), "socket");
	if (connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return gdn_err_set(err, EADDRINUSE, "another server is listening on '%s'", path);
	(void)unlink(sa.sun_path); /* a stale socket, or nothing */
	/* the file is created with `mode` at once: no window in which others could connect */
	old = umask((mode_t)(~mode & 0777));
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	(void)umask(old);
	if (r < 0)
		return gdn_err_set(err, errno, "bind '%s'", path);
	if (listen(fd, SOMAXCONN) < 0)
		return gdn_err_set(err, errno, "listen '%s'", path);
	return gdn_steal_fd(&fd);
}

int gdn_ipc_connect(const char *path, int type, int flags, struct gdn_err **err)
{
	_cleanup_close_ int fd = -1, dirfd = -1;
	struct sockaddr_un sa;
	int r;

	if ((r = make_addr(path, &sa, &dirfd, err)) < 0)
		return r;
	fd = new_socket(type, flags);
	if (fd < 0)
		return gdn_err_set(err, -fd, "socket");
	do
		r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	while (r < 0 && errno == EINTR);
	if (r < 0 && errno != EINPROGRESS)
		return gdn_err_set(err, errno, "connect to '%s'", path);
	return gdn_steal_fd(&fd);
}

bool gdn_ipc_peer_allowed(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return false;
	return cred.uid == 0 || cred.uid == geteuid();
}

int gdn_ipc_accept(int lfd, int flags, struct gdn_err **err)
{
	_cleanup_close_ int fd = -1;
	struct ucred cred = {0};
	socklen_t len = sizeof(cred);

	for (;;) {
		fd = accept4(lfd, NULL, NULL,
			     SOCK_CLOEXEC | ((flags & GDN_IPC_NONBLOCK) ? SOCK_NONBLOCK : 0));
		if (fd >= 0)
			break;
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno == EAGAIN)
			return -EAGAIN;
		return gdn_err_set(err, errno, "accept");
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return gdn_err_set(err, errno, "SO_PEERCRED");
	if (cred.uid != 0 && cred.uid != geteuid())
		return gdn_err_kind(err, GDN_ERR_GENERIC, EACCES,
				    "peer refused: uid %u (pid %d) is neither root nor uid %u",
				    (unsigned)cred.uid, (int)cred.pid, (unsigned)geteuid());
	return gdn_steal_fd(&fd);
}

/* --- the envelope -------------------------------------------------------------------------- */

static int set_v(json_t *msg, int v)
{
	return v >= 0 ? json_object_set_new(msg, "v", json_integer(v)) : 0;
}

json_t *gdn_ipc_request_new(const char *op, int v)
{
	json_t *msg = json_pack("{s:s}", "op", op);

	if (msg && set_v(msg, v < 0 ? 0 : v) < 0)
		msg = (json_decref(msg), NULL);
	return msg;
}

json_t *gdn_ipc_ok_new(int v)
{
	json_t *msg = json_pack("{s:b}", "ok", 1);

	if (msg && set_v(msg, v) < 0)
		msg = (json_decref(msg), NULL);
	return msg;
}

json_t *gdn_ipc_error_new(const struct gdn_err *e, int v)
{
	json_t *msg = json_pack("{s:o}", "error", gdn_err_to_json(e));

	if (msg && set_v(msg, v) < 0)
		msg = (json_decref(msg), NULL);
	return msg;
}

/* "v" of msg: 0 when absent, -1 when not a non-negative integer. */
static int version_of(const json_t *msg)
{
	const json_t *v = json_object_get(msg, "v");
	json_int_t n;

	if (!v)
		return 0;
	n = json_integer_value(v);
	if (!json_is_integer(v) || n < 0 || n > INT32_MAX)
		return -1;
	return (int)n;
}

int gdn_ipc_request_parse(const json_t *msg, const char **ret_op, int *ret_v, struct gdn_err **err)
{
	const char *op = json_string_value(json_object_get(msg, "op"));
	int v = version_of(msg);

	*ret_op = op;
	*ret_v = v < 0 ? 0 : v;
	if (!op)
		return gdn_err_kind(err, GDN_ERR_GENERIC, EBADMSG, "request without an op");
	if (v < 0)
		return gdn_err_kind(err, GDN_ERR_GENERIC, EBADMSG,
				    "request '%s': \"v\" is not a protocol version", op);
	return 0;
}

int gdn_ipc_reply_parse(const json_t *msg, int *ret_v, struct gdn_err **err)
{
	const json_t *e = json_object_get(msg, "error");
	int v = version_of(msg);

	if (ret_v)
		*ret_v = v < 0 ? 0 : v;
	if (!json_is_object(msg) || v < 0)
		return gdn_err_kind(err, GDN_ERR_GENERIC, EPROTO, "malformed reply");
	if (e && !json_is_null(e))
		return gdn_err_from_json(e, err);
	if (!json_is_true(json_object_get(msg, "ok")))
		return gdn_err_kind(err, GDN_ERR_GENERIC, EPROTO, "reply neither ok nor error");
	return 0;
}

int gdn_ipc_await(int sock, int timeout_ms, json_t **ret_reply, struct gdn_err **err)
{
	json_auto_t *reply = NULL;
	uint64_t deadline = gdn_now_mono_ns() + (uint64_t)timeout_ms * 1000000ULL;
	int r;

	*ret_reply = NULL;
	for (;;) {
		struct pollfd pfd = {.fd = sock, .events = POLLIN};
		uint64_t now = gdn_now_mono_ns();
		int left = now >= deadline ? 0 : (int)((deadline - now + 999999) / 1000000);

		r = left > 0 ? poll(&pfd, 1, left) : 0;
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return gdn_err_set(err, errno, "poll");
		if (r == 0)
			return gdn_err_kind(err, GDN_ERR_GENERIC, ETIMEDOUT,
					    "no reply within %d ms", timeout_ms);
		{
			_cleanup_err_ struct gdn_err *e = NULL;

			r = gdn_ipc_recv(sock, &reply, NULL, NULL, &e);
			if (r == -EAGAIN)
				continue; /* a spurious wake-up */
			if (r < 0) {
				if (err && !*err)
					*err = gdn_steal_ptr(&e);
				return r;
			}
		}
		if (r == 0)
			return gdn_err_kind(err, GDN_ERR_GENERIC, ECONNRESET,
					    "the peer hung up without a reply");
		break;
	}
	*ret_reply = gdn_steal_ptr(&reply);
	return 0;
}

int gdn_ipc_exchange(int sock, json_t *req, const int *fds, size_t nfds, int timeout_ms,
		     json_t **ret_reply, struct gdn_err **err)
{
	int r = gdn_ipc_send(sock, req, fds, nfds, err);

	if (r < 0) {
		*ret_reply = NULL;
		return r;
	}
	return gdn_ipc_await(sock, timeout_ms, ret_reply, err);
}

int gdn_ipc_call(int sock, json_t *req, const int *fds, size_t nfds, int timeout_ms,
		 json_t **ret_reply, struct gdn_err **err)
{
	json_auto_t *reply = NULL;
	int r;

	if (ret_reply)
		*ret_reply = NULL;
	if ((r = gdn_ipc_exchange(sock, req, fds, nfds, timeout_ms, &reply, err)) < 0 ||
	    (r = gdn_ipc_reply_parse(reply, NULL, err)) < 0)
		return r;
	if (ret_reply)
		*ret_reply = gdn_steal_ptr(&reply);
	return 0;
}

int gdn_ipc_reply(int sock, int v, const json_t *result, const struct gdn_err *e,
		  struct gdn_err **err)
{
	json_auto_t *msg = e ? gdn_ipc_error_new(e, v) : gdn_ipc_ok_new(v);

	if (!msg)
		return gdn_err_set(err, ENOMEM, "reply");
	/* the result's members after "ok" and "v", which it cannot replace */
	if (!e && json_is_object(result) && (json_object_update_missing(msg, (json_t *)result) < 0))
		return gdn_err_set(err, ENOMEM, "reply");
	return gdn_ipc_send(sock, msg, NULL, 0, err);
}
