/* A small blocking HTTP/1.1 client: one request per connection, "Connection: close", the
 * response read whole (Content-Length, chunked or close-delimited). Used by gaol and tests. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "lib/http_client.h"
#include "lib/buf.h"
#include "lib/fs.h"
#include "lib/http.h"
#include "lib/ipc.h"
#include "lib/macro.h"
#include "lib/util.h"

#define DIAL_TIMEOUT_MS 10000
#define MAX_RESP_HEAD (64 * 1024)
#define MAX_RESP_BODY ((size_t)64 * 1024 * 1024)
#define READ_CHUNK (64 * 1024)

/* --- dialing -------------------------------------------------------------------------------- */

static int dial_unix(const char *path, struct gdn_err **err)
{
	return gdn_ipc_connect(path, SOCK_STREAM, 0, err);
}

/* Splits "host:port", "[v6]:port" or ":port" (empty host: the local system). */
static int split_host_port(const char *target, char **ret_host, char **ret_port,
			   struct gdn_err **err)
{
	const char *host, *host_end, *colon;

	if (target[0] == '[') {
		host = target + 1;
		host_end = strchr(host, ']');
		if (!host_end)
			return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
					    "address '%s': missing ']'", target);
		colon = host_end + 1;
		if (*colon != ':')
			return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
					    "address '%s': missing port", target);
	} else {
		host = target;
		colon = strrchr(target, ':');
		if (!colon)
			return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
					    "address '%s': missing port (use HOST:PORT, or a path "
					    "containing '/' for a UNIX socket)",
					    target);
		if (memchr(target, ':', (size_t)(colon - target)))
			return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
					    "address '%s': too many colons (put IPv6 addresses in "
					    "brackets)",
					    target);
		host_end = colon;
	}
	if (colon[1] == '\0')
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL, "address '%s': missing port",
				    target);

	*ret_host = strndup(host, (size_t)(host_end - host));
	*ret_port = strdup(colon + 1);
	if (!*ret_host || !*ret_port) {
		free(*ret_host);
		free(*ret_port);
		*ret_host = *ret_port = NULL;
		return gdn_err_set(err, ENOMEM, "address '%s'", target);
	}
	return 0;
}

/* connect() with a deadline on a non-blocking socket; returns 0 or -errno. */
static int connect_deadline(int fd, const struct sockaddr *sa, socklen_t len, uint64_t deadline)
{
	int soerr = 0;
	socklen_t soerr_len = sizeof(soerr);

	if (connect(fd, sa, len) == 0)
		return 0;
	if (errno != EINPROGRESS && errno != EINTR)
		return -errno;
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLOUT};
		uint64_t now = gdn_now_mono_ns();
		int r;

		if (now >= deadline)
			return -ETIMEDOUT;
		r = poll(&p, 1, (int)((deadline - now + 999999) / 1000000));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ETIMEDOUT;
		break;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &soerr_len) < 0)
		return -errno;
	return soerr ? -soerr : 0;
}

static int dial_tcp(const char *target, struct gdn_err **err)
{
	_cleanup_free_ char *host = NULL;
	_cleanup_free_ char *port = NULL;
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct addrinfo *res = NULL;
	uint64_t deadline = gdn_now_mono_ns() + (uint64_t)DIAL_TIMEOUT_MS * 1000000;
	int r, last = -EHOSTUNREACH;

	r = split_host_port(target, &host, &port, err);
	if (r < 0)
		return r;

	r = getaddrinfo(host && host[0] ? host : NULL, port, &hints, &res);
	if (r == EAI_SYSTEM)
		return gdn_err_set(err, errno, "resolve '%s'", target);
	if (r != 0)
		return gdn_err_set(err, 0, "resolve '%s': %s", target, gai_strerror(r));

	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		_cleanup_close_ int fd = -1;

		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
			    ai->ai_protocol);
		if (fd < 0) {
			last = -errno;
			continue;
		}
		r = connect_deadline(fd, ai->ai_addr, ai->ai_addrlen, deadline);
		if (r < 0) {
			last = r;
			continue;
		}
		r = gdn_fd_set_nonblock(fd, false);
		if (r < 0) {
			last = r;
			continue;
		}
		freeaddrinfo(res);
		return gdn_steal_fd(&fd);
	}
	freeaddrinfo(res);
	return gdn_err_set(err, -last, "connect to '%s'", target);
}

int gdn_http_dial(const char *target, struct gdn_err **err)
{
	if (!target || !*target)
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL, "empty target address");
	if (strchr(target, '/'))
		return dial_unix(target, err);
	return dial_tcp(target, err);
}

/* --- request -------------------------------------------------------------------------------- */

void gdn_http_resp_free(struct gdn_http_resp *r)
{
	if (!r)
		return;
	free(r->content_type);
	free(r->body);
	*r = (struct gdn_http_resp){0};
}

/* Writes everything; MSG_NOSIGNAL so a peer that went away is EPIPE, not SIGPIPE. */
static int send_all(int fd, const char *p, size_t n)
{
	bool is_sock = true;

	while (n > 0) {
		ssize_t w = is_sock ? send(fd, p, n, MSG_NOSIGNAL) : write(fd, p, n);

		if (w < 0 && errno == ENOTSOCK && is_sock) {
			is_sock = false;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

struct reader {
	int fd;
	struct gdn_buf in; /* received, not yet consumed */
	bool eof;
};

/* One read(2) into r->in; returns bytes read, 0 at EOF, -errno. */
static ssize_t fill(struct reader *r)
{
	char tmp[READ_CHUNK];
	ssize_t n;

	if (r->eof)
		return 0;
	do
		n = read(r->fd, tmp, sizeof(tmp));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0) {
		r->eof = true;
		return 0;
	}
	if (gdn_buf_append(&r->in, tmp, (size_t)n) < 0)
		return -ENOMEM;
	return n;
}

/* Length of the head (through the blank line; LF or CRLF line ends), or 0 if incomplete. */
static size_t head_end(const char *p, size_t len)
{
	size_t line = 0;

	for (size_t i = 0; i < len; i++) {
		if (p[i] != '\n')
			continue;
		if (i == line || (i == line + 1 && p[line] == '\r'))
			return i + 1;
		line = i + 1;
	}
	return 0;
}

struct head {
	int status;
	int minor; /* HTTP/1.<minor> */
	char *content_type;
	bool chunked;
	bool has_length;
	uint64_t length;
	bool conn_close;      /* "Connection: close" */
	bool conn_keep_alive; /* "Connection: keep-alive" */
};

/* Whether the comma-separated header value contains `token` (case-insensitive). */
static int parse_status_line(const char *line, int *ret_status, int *ret_minor,
			     struct gdn_err **err)
{
	int status = 0;

	if (strncmp(line, "HTTP/1.", 7) != 0 || !(line[7] >= '0' && line[7] <= '9') ||
	    line[8] != ' ')
		return gdn_err_kind(err, GDN_ERR_GENERIC, EBADMSG,
				    "malformed HTTP status line '%.80s'", line);
	for (int i = 9; i < 12; i++) {
		if (line[i] < '0' || line[i] > '9')
			return gdn_err_kind(err, GDN_ERR_GENERIC, EBADMSG,
					    "malformed HTTP status line '%.80s'", line);
		status = status * 10 + (line[i] - '0');
	}
	if (line[12] != '\0' && line[12] != ' ')
		return gdn_err_kind(err, GDN_ERR_GENERIC, EBADMSG,
				    "malformed HTTP status line '%.80s'", line);
	if (status < 100)
		return gdn_err_kind(err, GDN_ERR_GENERIC, EBADMSG,
				    "malformed HTTP status line '%.80s'", line);
	*ret_status = status;
	*ret_minor = line[7] - '0';
	return 0;
}

/* Parses the head in text[0..len) (a private, modifiable copy). */
static int parse_head(char *text, struct head *h, struct gdn_err **err)
{
	char *save = NULL;
	char *line;
	int r;

	line = strtok_r(text, "\n", &save);
	if (!line)
		return gdn_err_kind(err, GDN_ERR_GENERIC, EBADMSG, "empty HTTP response head");
	line = gdn_str_trim(line);
	r = parse_status_line(line, &h->status, &h->minor, err);
	if (r < 0)
		return r;

	while ((line = strtok_r(NULL, "\n", &save))) {
		char *colon, *name, *value;

		line = gdn_str_trim(line);
		if (!*line)
			break;
		colon = strchr(line, ':');
		if (!colon)
			return gdn_err_kind(err, GDN_ERR_GENERIC, EBADMSG,
					    "malformed HTTP header line '%.80s'", line);
		*colon = '\0';
		name = gdn_str_trim(line);
		value = gdn_str_trim(colon + 1);

		if (strcasecmp(name, "Content-Length") == 0) {
			uint64_t n;

			if (gdn_parse_u64(value, &n) < 0)
				return gdn_err_kind(err, GDN_ERR_GENERIC, EBADMSG,
						    "bad Content-Length '%.40s'", value);
			if (h->has_length && n != h->length)
				return gdn_err_kind(err, GDN_ERR_GENERIC, EBADMSG,
						    "conflicting Content-Length");
			h->has_length = true;
			h->length = n;
		} else if (strcasecmp(name, "Transfer-Encoding") == 0) {
			char *last = strrchr(value, ',');

			last = gdn_str_trim(last ? last + 1 : value);
			if (strcasecmp(last, "chunked") == 0)
				h->chunked = true;
			else if (strcasecmp(last, "identity") != 0)
				return gdn_err_kind(err, GDN_ERR_GENERIC, EBADMSG,
						    "unsupported Transfer-Encoding '%.40s'", value);
		} else if (strcasecmp(name, "Connection") == 0) {
			h->conn_close |= gdn_http_list_has_token(value, "close");
			h->conn_keep_alive |= gdn_http_list_has_token(value, "keep-alive");
		} else if (strcasecmp(name, "Content-Type") == 0) {
			free(h->content_type);
			h->content_type = strdup(value);
			if (!h->content_type)
				return gdn_err_set(err, ENOMEM, "read response head");
		}
	}
	return 0;
}

/* Reads one head (skipping 1xx interim responses) and consumes it from r->in. */
static int read_head(struct reader *r, struct head *h, struct gdn_err **err)
{
	for (;;) {
		size_t end = head_end(r->in.data ? r->in.data : "", r->in.len);
		_cleanup_free_ char *text = NULL;
		ssize_t n;
		int ret;

		if (end == 0) {
			if (r->in.len > MAX_RESP_HEAD)
				return gdn_err_kind(err, GDN_ERR_GENERIC, EBADMSG,
						    "HTTP response head larger than %d bytes",
						    MAX_RESP_HEAD);
			n = fill(r);
			if (n < 0)
				return gdn_err_set(err, (int)-n, "read response");
			if (n == 0 && r->in.len == 0)
				return gdn_err_set(
				    err, 0, "server closed the connection without a response");
			if (n == 0)
				return gdn_err_set(err, 0, "unexpected EOF in HTTP response head");
			continue;
		}

		text = strndup(r->in.data, end);
		if (!text)
			return gdn_err_set(err, ENOMEM, "read response head");
		gdn_buf_consume(&r->in, end);

		free(h->content_type);
		*h = (struct head){0};
		ret = parse_head(text, h, err);
		if (ret < 0)
			return ret;
		if (h->status >= 200 || h->status == 101)
			return 0;
		/* 100 Continue and friends: another head follows. */
	}
}

static int body_too_large(struct gdn_err **err)
{
	return gdn_err_kind(err, GDN_ERR_GENERIC, EFBIG, "response body larger than %zu MiB",
			    MAX_RESP_BODY / (1024 * 1024));
}

static int read_chunked(struct reader *r, struct gdn_buf *body, struct gdn_err **err)
{
	struct gdn_chunked c = {0};
	ssize_t n;

	for (;;) {
		if (r->in.len > 0) {
			ssize_t used = gdn_chunked_feed(&c, r->in.data, r->in.len, body, err);

			if (used < 0)
				return gdn_err_wrap(err, "read chunked response body");
			gdn_buf_consume(&r->in, (size_t)used);
			if (body->len > MAX_RESP_BODY)
				return body_too_large(err);
			if (c.done)
				return 0;
		}
		n = fill(r);
		if (n < 0)
			return gdn_err_set(err, (int)-n, "read response body");
		if (n == 0)
			return gdn_err_set(err, 0, "unexpected EOF in chunked response body");
	}
}

static int read_length(struct reader *r, uint64_t length, struct gdn_buf *body,
		       struct gdn_err **err)
{
	if (length > MAX_RESP_BODY)
		return body_too_large(err);
	while (r->in.len < length) {
		ssize_t n = fill(r);

		if (n < 0)
			return gdn_err_set(err, (int)-n, "read response body");
		if (n == 0)
			return gdn_err_set(err, 0,
					   "unexpected EOF in response body (got %zu of %" PRIu64
					   " bytes)",
					   r->in.len, length);
	}
	if (gdn_buf_append(body, r->in.data, (size_t)length) < 0)
		return gdn_err_set(err, ENOMEM, "read response body");
	gdn_buf_consume(&r->in, (size_t)length);
	return 0;
}

static int read_to_eof(struct reader *r, struct gdn_buf *body, struct gdn_err **err)
{
	for (;;) {
		ssize_t n;

		if (r->in.len > 0) {
			if (body->len + r->in.len > MAX_RESP_BODY)
				return body_too_large(err);
			if (gdn_buf_append(body, r->in.data, r->in.len) < 0)
				return gdn_err_set(err, ENOMEM, "read response body");
			gdn_buf_reset(&r->in);
		}
		n = fill(r);
		if (n < 0)
			return gdn_err_set(err, (int)-n, "read response body");
		if (n == 0)
			return 0;
	}
}

/* Reads the body as the head frames it: chunked, Content-Length, or up to EOF. */
static int read_body(struct reader *r, const struct head *h, struct gdn_buf *body,
		     struct gdn_err **err)
{
	if (h->chunked)
		return read_chunked(r, body, err);
	if (h->has_length)
		return read_length(r, h->length, body, err);
	return read_to_eof(r, body, err);
}

static int read_response(int fd, const char *method, struct gdn_http_resp *resp,
			 struct gdn_err **err)
{
	struct reader r = {.fd = fd};
	struct head h = {0};
	_cleanup_buf_ struct gdn_buf body = {0};
	int ret;

	ret = read_head(&r, &h, err);
	if (ret >= 0) {
		bool no_body = strcmp(method, "HEAD") == 0 || h.status == 204 || h.status == 304 ||
			       h.status == 101;

		ret = no_body ? 0 : read_body(&r, &h, &body, err);
	}
	gdn_buf_free(&r.in);
	if (ret < 0) {
		free(h.content_type);
		return ret;
	}

	resp->status = h.status;
	resp->content_type = h.content_type;
	resp->body = gdn_buf_steal(&body, &resp->body_len);
	return 0;
}

int gdn_http_request(int fd, const char *method, const char *path, const char *content_type,
		     const void *body, size_t body_len, struct gdn_http_resp *ret_resp,
		     struct gdn_err **err)
{
	_cleanup_buf_ struct gdn_buf head = {0};
	bool has_body = body || content_type;
	int r, wr;

	*ret_resp = (struct gdn_http_resp){0};

	r = gdn_buf_printf(&head,
			   "%s %s HTTP/1.1\r\nHost: api\r\nUser-Agent: gaol\r\n"
			   "Connection: close\r\n",
			   method, path);
	if (r >= 0 && has_body && content_type)
		r = gdn_buf_printf(&head, "Content-Type: %s\r\n", content_type);
	if (r >= 0 && has_body)
		r = gdn_buf_printf(&head, "Content-Length: %zu\r\n", body_len);
	if (r >= 0)
		r = gdn_buf_puts(&head, "\r\n");
	if (r < 0)
		return gdn_err_set(err, ENOMEM, "%s %s", method, path);

	wr = send_all(fd, head.data, head.len);
	if (wr >= 0 && body && body_len > 0)
		wr = send_all(fd, body, body_len);

	r = read_response(fd, method, ret_resp, err);
	if (r < 0 && wr < 0) {
		/* The write failure is the real story (the read error only follows from it). */
		if (err)
			*err = gdn_err_free(*err);
		return gdn_err_set(err, -wr, "send %s %s", method, path);
	}
	return r;
}

/* --- hijacked requests ---------------------------------------------------------------------- */

/* Go's net/http marks such a response "Close" and httputil.ClientConn then fails the request with
 * ErrPersistEOF (garden-protocol.md §1.3); the Garden client cannot use it. */
static int check_hijackable(const struct head *h, const char *method, const char *path,
			    struct gdn_err **err)
{
	const char *why = NULL;

	if (h->conn_close)
		why = "it says Connection: close";
	else if (h->minor == 0 && !h->conn_keep_alive)
		why = "it is HTTP/1.0";
	else if (!h->chunked && !h->has_length)
		why = "it has neither Content-Length nor Transfer-Encoding: chunked";
	if (!why)
		return 0;
	return gdn_err_kind(err, GDN_ERR_GENERIC, EPROTO,
			    "%s %s: the server's %d response cannot be hijacked: %s", method, path,
			    h->status, why);
}

int gdn_http_hijack_send(int fd, const char *method, const char *path, const char *content_type,
			 const void *body, size_t len)
{
	_cleanup_buf_ struct gdn_buf req = {0};
	int ret;

	ret = gdn_buf_printf(&req, "%s %s HTTP/1.1\r\nHost: api\r\nUser-Agent: gaol\r\n", method,
			     path);
	if (ret >= 0 && body)
		ret = gdn_buf_printf(&req, "Content-Length: %zu\r\n", len);
	if (ret >= 0 && content_type)
		ret = gdn_buf_printf(&req, "Content-Type: %s\r\n", content_type);
	if (ret >= 0)
		ret = gdn_buf_puts(&req, "\r\n");
	if (ret >= 0 && body && len > 0)
		ret = gdn_buf_append(&req, body, len);
	if (ret < 0)
		return -ENOMEM;
	return send_all(fd, req.data, req.len);
}

int gdn_http_hijack(int fd, const char *method, const char *path, const char *content_type,
		    const void *body, size_t len, int *ret_status, struct gdn_buf *ret_leftover,
		    char **ret_error_body, struct gdn_err **err)
{
	int wr = gdn_http_hijack_send(fd, method, path, content_type, body, len);

	return gdn_http_hijack_recv(fd, wr, method, path, ret_status, ret_leftover, ret_error_body,
				    err);
}

int gdn_http_hijack_recv(int fd, int send_result, const char *method, const char *path,
			 int *ret_status, struct gdn_buf *ret_leftover, char **ret_error_body,
			 struct gdn_err **err)
{
	_cleanup_buf_ struct gdn_buf err_body = {0};
	struct reader r = {.fd = fd};
	struct head h = {0};
	int ret, wr = send_result;

	/* The request was never built: no answer will come. */
	if (wr == -ENOMEM)
		return gdn_err_set(err, ENOMEM, "%s %s", method, path);
	ret = read_head(&r, &h, err);
	if (ret < 0 && wr < 0) {
		/* The write failure is the real story (the read error only follows from it). */
		if (err)
			*err = gdn_err_free(*err);
		ret = gdn_err_set(err, -wr, "send %s %s", method, path);
	} else if (ret < 0) {
		(void)gdn_err_wrap(err, "%s %s", method, path);
	} else if (h.status >= 200 && h.status <= 299) {
		ret = check_hijackable(&h, method, path, err);
	} else if (h.status == 304 || h.status == 101) {
		ret = 0;
	} else {
		ret = read_body(&r, &h, &err_body, err);
	}
	free(h.content_type);
	if (ret < 0) {
		gdn_buf_free(&r.in);
		return ret;
	}

	*ret_status = h.status;
	gdn_buf_free(ret_leftover);
	if (h.status >= 200 && h.status <= 299) {
		*ret_leftover = r.in;
		*ret_error_body = NULL;
		return 0;
	}
	gdn_buf_free(&r.in);
	*ret_error_body = gdn_buf_steal(&err_body, NULL);
	if (!*ret_error_body)
		*ret_error_body = strdup("");
	if (!*ret_error_body)
		return gdn_err_set(err, ENOMEM, "%s %s", method, path);
	return 0;
}

/* --- escaping ------------------------------------------------------------------------------- */

static char *escape(const char *s, bool space_plus)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = malloc(strlen(s) * 3 + 1);
	char *o;

	if (!out)
		return NULL;
	o = out;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		unsigned char c = *p;

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.' || c == '~') {
			*o++ = (char)c;
		} else if (c == ' ' && space_plus) {
			*o++ = '+';
		} else {
			*o++ = '%';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
	}
	*o = '\0';
	return out;
}

char *gdn_url_query_escape(const char *s)
{
	return escape(s, true);
}

char *gdn_url_path_escape(const char *s)
{
	return escape(s, false);
}
