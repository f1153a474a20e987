/* NDJSON framing over pipes and sockets, fds over SEQPACKET: see ipc.h. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/uio.h>
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

int gdn_ipc_recv(int sock, json_t **ret_msg, int *ret_fds, size_t *ret_nfds, struct gdn_err **err)
{
	_cleanup_free_ char *buf = NULL;
	union fd_cmsg cbuf;
	struct iovec iov;
	struct msghdr mh;
	int fds[GDN_IPC_MAX_FDS];
	size_t nfds = 0;
	bool bad_cmsg = false;
	ssize_t n;
	int r;

	*ret_msg = NULL;
	if (ret_nfds)
		*ret_nfds = 0;
	buf = malloc(GDN_IPC_MAX_LINE + 1);
	if (!buf)
		return gdn_err_set(err, ENOMEM, "ipc recv");
	iov = (struct iovec){.iov_base = buf, .iov_len = GDN_IPC_MAX_LINE + 1};
	memset(&cbuf, 0, sizeof(cbuf));
	mh = (struct msghdr){.msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = cbuf.b,
			     .msg_controllen = sizeof(cbuf.b)};
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return gdn_err_set(err, errno, "ipc recv");

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
	if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
		close_fds(fds, nfds);
		return gdn_err_set(err, EMSGSIZE, "ipc recv: truncated packet%s",
				   (mh.msg_flags & MSG_CTRUNC) ? " (control data)" : "");
	}
	if (bad_cmsg) {
		close_fds(fds, nfds);
		return gdn_err_set(err, EBADMSG, "ipc recv: unexpected control message");
	}
	if (n == 0) {
		if (nfds > 0) {
			close_fds(fds, nfds);
			return gdn_err_set(err, EBADMSG, "ipc recv: fds without a message");
		}
		return 0;
	}
	if (nfds > 0 && !ret_fds) {
		close_fds(fds, nfds);
		return gdn_err_set(err, EBADMSG, "ipc recv: %zu unexpected fds", nfds);
	}
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
	*ret_msg = NULL;
	for (;;) {
		const char *data = r->buf.data;
		const char *nl = data ? memchr(data, '\n', r->buf.len) : NULL;
		size_t ll;
		int ret;

		if (!nl) {
			if (r->buf.len > GDN_IPC_MAX_LINE) {
				gdn_buf_reset(&r->buf);
				return gdn_err_set(err, EBADMSG, "line longer than %d bytes",
						   GDN_IPC_MAX_LINE);
			}
			if (!r->eof || r->buf.len == 0)
				return 0;
			/* an unterminated last line before EOF */
			ll = r->buf.len;
		} else {
			ll = (size_t)(nl - data);
		}
		if (ll > GDN_IPC_MAX_LINE) {
			gdn_buf_consume(&r->buf, ll + 1);
			return gdn_err_set(err, EBADMSG, "line longer than %d bytes",
					   GDN_IPC_MAX_LINE);
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

/* Reads up to and including the next '\n' without consuming anything after it. */
static int read_line_stream(int fd, struct gdn_buf *out, bool *ret_eof)
{
	char tmp[LINES_SLICE];

	for (;;) {
		ssize_t n = recv(fd, tmp, sizeof(tmp), MSG_PEEK);
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
		n = gdn_fd_read_all(fd, tmp, take);
		if (n < 0)
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

/* Byte by byte, for pipes: there is nowhere to keep what follows the line. */
static int read_line_bytes(int fd, struct gdn_buf *out, bool *ret_eof)
{
	for (;;) {
		char c;
		ssize_t n = read(fd, &c, 1);
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
		r = gdn_buf_append(out, &c, 1);
		if (r < 0)
			return r;
		if (c == '\n')
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
		if (type == SOCK_STREAM)
			r = read_line_stream(fd, &b, &eof);
		else
			r = read_line_bytes(fd, &b, &eof);
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
