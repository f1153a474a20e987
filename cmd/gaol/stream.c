/* gaol stream-in / stream-out (real gaol's commands and flags): a tar archive from stdin into a
 * container directory (PUT /containers/H/files, the body sent chunked as Go's client sends an
 * io.Reader), or one of a container path to stdout (GET, the chunked body decoded as it comes).
 * Neither holds the archive in memory. */
#include <signal.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "cmd/gaol/gaol.h"
#include "lib/buf.h"
#include "lib/fs.h"
#include "lib/http.h"

#define BLOCK (256 * 1024)

/* one command runs per process: one I/O buffer, with room for a chunk's framing */
static char io_buf[16 + BLOCK + 2];

/* "/containers/H/files?<key>=<value>&user=<user>" (keys in Go's sorted order). */
static char *files_path(const char *handle, const char *key, const char *value, const char *user)
{
	_cleanup_free_ char *base = gl_container_path(handle, "/files");
	_cleanup_free_ char *v = gdn_url_query_escape(value);
	_cleanup_free_ char *u = gdn_url_query_escape(user ? user : "");
	char *path = NULL;

	if (!base || !v || !u || asprintf(&path, "%s?%s=%s&user=%s", base, key, v, u) < 0)
		return NULL;
	return path;
}

/* Parses "[-d|-s PATH] [-u USER] HANDLE"; -1 to go on, else the exit status. */
static int parse(const struct gl_cmd *cmd, int argc, char **argv, char flag, const char **path,
		 const char **user)
{
	int c;

	while ((c = gl_getopt(cmd, argc, argv)) != -1) {
		if (c == flag)
			*path = optarg;
		else if (c == 'u')
			*user = optarg;
		else
			return gl_opt_other(cmd, c);
	}
	if (!gl_nargs_ok(cmd, argc, argv, 1, 1))
		return GL_EXIT_USAGE;
	if (!*argv[optind])
		return gl_usage_error(cmd, "empty handle");
	if (!*path)
		return gl_usage_error(cmd, "-%c is required", flag);
	return -1;
}

static int read_more(int fd, struct gdn_buf *raw, char *buf, struct gdn_err **err)
{
	for (;;) {
		ssize_t n = read(fd, buf, BLOCK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return gdn_err_set(err, errno, "read the response");
		if (n > 0 && gdn_buf_append(raw, buf, (size_t)n) < 0)
			return gdn_err_set(err, ENOMEM, "read the response");
		return (int)(n > 0);
	}
}

/* Feeds raw's bytes (consuming them) through the body's framing into `out`, or for an
 * unframed body appends them as they are; true once the body is complete. */
static int take_body(struct gdn_buf *raw, bool chunked, struct gdn_chunked *st, struct gdn_buf *out,
		     struct gdn_err **err)
{
	if (!chunked) {
		int r = gdn_buf_append(out, raw->data, raw->len);
		gdn_buf_reset(raw);
		return r < 0 ? gdn_err_set(err, ENOMEM, "response") : 0;
	}
	ssize_t used = gdn_chunked_feed(st, raw->data, raw->len, out, err);
	if (used < 0)
		return (int)used;
	gdn_buf_consume(raw, (size_t)used);
	return st->done;
}

/* Reads the response head (the bytes after it stay in raw). A 2xx: its status, with *chunked
 * saying whether its body is chunked. Anything else: the Garden error its body holds. */
static int read_head(int fd, struct gdn_buf *raw, bool *chunked, char *buf, struct gdn_err **err)
{
	char *end;
	int status = 0, r;

	while (!raw->data || !(end = memmem(raw->data, raw->len, "\r\n\r\n", 4))) {
		if (raw->len > 65536)
			return gdn_err_set(err, EPROTO, "the response head is too long");
		if ((r = read_more(fd, raw, buf, err)) <= 0)
			return r < 0 ? r : gdn_err_set(err, EPROTO, "no response");
	}
	*end = '\0';
	if (sscanf(raw->data, "HTTP/1.%*d %d", &status) != 1)
		return gdn_err_set(err, EPROTO, "bad response head");
	*chunked = false;
	for (char *l = strstr(raw->data, "\r\n"); l; l = strstr(l + 2, "\r\n"))
		if (strncasecmp(l + 2, "transfer-encoding:", 18) == 0 &&
		    strcasestr(l + 20, "chunked"))
			*chunked = true;
	gdn_buf_consume(raw, (size_t)(end - raw->data) + 4);
	if (status >= 200 && status <= 299)
		return status;
	/* an error: its whole body, to the end of the connection */
	struct gdn_chunked st = {0};
	_cleanup_buf_ struct gdn_buf body = {0};
	while ((r = take_body(raw, *chunked, &st, &body, err)) == 0 &&
	       (r = read_more(fd, raw, buf, err)) > 0)
		;
	if (r < 0)
		return r;
	size_t len = body.len;
	if (gdn_buf_append(&body, "", 1) < 0)
		return gdn_err_set(err, ENOMEM, "response");
	const struct gdn_http_resp resp = {.status = status, .body = body.data, .body_len = len};
	return gl_decode_error(&resp, err);
}

/* Sends stdin as the chunked body. A failed write ends the sending: the server may have
 * answered (and closed) already, and the answer says why. */
static int send_stdin(int fd, struct gdn_err **err)
{
	char *buf = io_buf;

	for (;;) {
		ssize_t n = read(STDIN_FILENO, buf + 16, BLOCK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return gdn_err_set(err, errno, "read stdin");
		char head[16];
		int h = snprintf(head, sizeof(head), "%zx\r\n", (size_t)n);
		memcpy(buf + 16 - h, head, (size_t)h);
		/* each chunk ends in CRLF; the last (empty) one is followed by the empty trailer */
		memcpy(buf + 16 + n, "\r\n", 2);
		if (gdn_fd_write_all(fd, buf + 16 - h, (size_t)h + (size_t)n + 2) < 0)
			return 0;
		if (n == 0)
			return 0;
	}
}

int gl_cmd_stream_in(const struct gl_cmd *cmd, int argc, char **argv)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	_cleanup_free_ char *path = NULL, *head = NULL;
	_cleanup_buf_ struct gdn_buf raw = {0};
	char *buf = io_buf;
	const char *dest = NULL, *user = NULL;
	_cleanup_close_ int fd = -1;
	bool chunked;
	int r = parse(cmd, argc, argv, 'd', &dest, &user);

	if (r >= 0)
		return r;
	(void)signal(SIGPIPE, SIG_IGN);
	path = files_path(argv[optind], "destination", dest, user);
	if (!path ||
	    asprintf(&head,
		     "PUT %s HTTP/1.1\r\nHost: api\r\nUser-Agent: gaol\r\n"
		     "Content-Type: application/x-tar\r\nTransfer-Encoding: chunked\r\n\r\n",
		     path) < 0) {
		gdn_err_set(&err, ENOMEM, "stream-in");
		return gl_fail(err);
	}
	fd = gdn_http_dial(gl_target(), &err);
	if (fd < 0)
		return gl_fail(err);
	/* a failed write is not the story: the server answered early, and the answer tells */
	if (gdn_fd_write_all(fd, head, strlen(head)) >= 0 && send_stdin(fd, &err) < 0)
		return gl_fail(err);
	(void)shutdown(fd, SHUT_WR);
	if (read_head(fd, &raw, &chunked, buf, &err) < 0)
		return gl_fail(err);
	return GL_EXIT_OK;
}

int gl_cmd_stream_out(const struct gl_cmd *cmd, int argc, char **argv)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	_cleanup_free_ char *path = NULL;
	_cleanup_buf_ struct gdn_buf raw = {0};
	_cleanup_buf_ struct gdn_buf body = {0};
	char *buf = io_buf;
	struct gdn_chunked chunked = {0};
	const char *src = NULL, *user = NULL;
	_cleanup_close_ int fd = -1;
	bool is_chunked;
	int r = parse(cmd, argc, argv, 's', &src, &user);

	if (r >= 0)
		return r;
	path = files_path(argv[optind], "source", src, user);
	if (!path) {
		gdn_err_set(&err, ENOMEM, "stream-out");
		return gl_fail(err);
	}
	_cleanup_free_ char *head = NULL;
	if (asprintf(&head, "GET %s HTTP/1.1\r\nHost: api\r\nUser-Agent: gaol\r\n\r\n", path) < 0) {
		gdn_err_set(&err, ENOMEM, "stream-out");
		return gl_fail(err);
	}
	fd = gdn_http_dial(gl_target(), &err);
	if (fd < 0)
		return gl_fail(err);
	if (gdn_fd_write_all(fd, head, strlen(head)) < 0) {
		gdn_err_set(&err, errno, "send the request");
		return gl_fail(err);
	}
	if (read_head(fd, &raw, &is_chunked, buf, &err) < 0)
		return gl_fail(err);
	if (!is_chunked) {
		gdn_err_set(&err, EPROTO, "stream-out: the response is not chunked");
		return gl_fail(err);
	}
	for (;;) {
		if (take_body(&raw, true, &chunked, &body, &err) < 0)
			return gl_fail(err);
		if (body.len && gdn_fd_write_all(STDOUT_FILENO, body.data, body.len) < 0) {
			gdn_err_set(&err, errno, "write stdout");
			return gl_fail(err);
		}
		gdn_buf_reset(&body);
		if (chunked.done)
			return GL_EXIT_OK;
		ssize_t n = read(fd, buf, BLOCK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			gdn_err_set(&err, n < 0 ? errno : 0, "stream-out: the archive ended early");
			return gl_fail(err);
		}
		if (gdn_buf_append(&raw, buf, (size_t)n) < 0) {
			gdn_err_set(&err, ENOMEM, "stream-out");
			return gl_fail(err);
		}
	}
}
