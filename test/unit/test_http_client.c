/* lib/http_client.c: dialing, request framing, response bodies (Content-Length, chunked split
 * at odd places, close-delimited), error answers, limits, and Go's url.QueryEscape. The server
 * side is a socketpair or a forked child that writes canned pieces. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "lib/buf.h"
#include "lib/http_client.h"
#include "test/unit/tap.h"

/* --- helpers -------------------------------------------------------------------------------- */

/* Reads one request (head, then a Content-Length body) from fd; returns it NUL-terminated. */
static char *read_request(int fd)
{
	struct gdn_buf b = {0};
	char tmp[4096];
	size_t need = 0;

	for (;;) {
		char *end = b.data ? strstr(b.data, "\r\n\r\n") : NULL;

		if (end && !need) {
			const char *cl = strcasestr(b.data, "\r\nContent-Length: ");

			need = (size_t)(end + 4 - b.data);
			if (cl && cl < end)
				need += strtoul(cl + 18, NULL, 10);
		}
		if (need && b.len >= need)
			break;
		ssize_t n = read(fd, tmp, sizeof(tmp));
		if (n <= 0)
			break;
		CHECK(gdn_buf_append(&b, tmp, (size_t)n) == 0);
	}
	return gdn_buf_steal(&b, NULL);
}

/* Forks a server on `fd`: it reads the request, writes `pieces` (NULL-terminated) one write(2)
 * each with a short pause between them so that the client sees them split, then closes. */
static pid_t serve_pieces(int fd, const char *const *pieces)
{
	pid_t pid = fork();

	CHECK(pid >= 0);
	if (pid == 0) {
		free(read_request(fd));
		for (const char *const *p = pieces; *p; p++) {
			if (write(fd, *p, strlen(*p)) < 0)
				_exit(3);
			usleep(2000);
		}
		_exit(0);
	}
	return pid;
}

static void reap(pid_t pid)
{
	int status;

	CHECK(waitpid(pid, &status, 0) == pid);
}

/* One request against canned response pieces over a socketpair; returns the result code. */
static int request_pieces(const char *const *pieces, struct gdn_http_resp *resp,
			  struct gdn_err **err)
{
	int sv[2];
	pid_t pid;
	int r;

	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	pid = serve_pieces(sv[1], pieces);
	close(sv[1]);
	r = gdn_http_request(sv[0], "GET", "/ping", NULL, NULL, 0, resp, err);
	close(sv[0]);
	reap(pid);
	return r;
}

static bool has_cloexec(int fd)
{
	int fl = fcntl(fd, F_GETFD);

	return fl >= 0 && (fl & FD_CLOEXEC);
}

/* --- escaping ------------------------------------------------------------------------------- */

static void test_query_escape(void)
{
	static const struct {
		const char *in, *query, *path;
	} cases[] = {
	    {"", "", ""},
	    {"abcXYZ019-_.~", "abcXYZ019-_.~", "abcXYZ019-_.~"},
	    {"a b", "a+b", "a%20b"},
	    {"a,b", "a%2Cb", "a%2Cb"},
	    {"a/b?c=d&e#f", "a%2Fb%3Fc%3Dd%26e%23f", "a%2Fb%3Fc%3Dd%26e%23f"},
	    {"+%:@", "%2B%25%3A%40", "%2B%25%3A%40"},
	    {"\xc3\xa9\xff", "%C3%A9%FF", "%C3%A9%FF"},
	    {"\t\n", "%09%0A", "%09%0A"},
	};

	for (size_t i = 0; i < GDN_ARRAY_SIZE(cases); i++) {
		_cleanup_free_ char *q = gdn_url_query_escape(cases[i].in);
		_cleanup_free_ char *p = gdn_url_path_escape(cases[i].in);

		CHECK_STREQ(q, cases[i].query);
		CHECK_STREQ(p, cases[i].path);
	}
}

/* --- request framing and bodies ------------------------------------------------------------- */

static void test_request_framing(void)
{
	static const char answer[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
				     "Content-Length: 12\r\n\r\n{\"a\":\"b c\"}\nEXTRA";
	_cleanup_err_ struct gdn_err *err = NULL;
	_cleanup_free_ char *req = NULL;
	struct gdn_http_resp resp = {0};
	int sv[2];

	/* The answer is queued before the request is sent: no second process needed. */
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	CHECK(write(sv[1], answer, strlen(answer)) == (ssize_t)strlen(answer));
	CHECK(shutdown(sv[1], SHUT_WR) == 0);
	CHECK_OK(gdn_http_request(sv[0], "POST", "/containers", "application/json", "{\"a\":1}\n",
				  8, &resp, &err),
		 err);
	CHECK_INTEQ(resp.status, 200);
	CHECK_STREQ(resp.content_type, "application/json");
	CHECK_INTEQ(resp.body_len, 12);
	CHECK_STREQ(resp.body, "{\"a\":\"b c\"}\n");
	gdn_http_resp_free(&resp);
	CHECK(resp.body == NULL && resp.content_type == NULL);
	close(sv[0]);

	req = read_request(sv[1]);
	CHECK_STREQ(req, "POST /containers HTTP/1.1\r\nHost: api\r\nUser-Agent: gaol\r\n"
			 "Connection: close\r\nContent-Type: application/json\r\n"
			 "Content-Length: 8\r\n\r\n{\"a\":1}\n");
	close(sv[1]);
}

static void test_request_without_body(void)
{
	static const char answer[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
	_cleanup_err_ struct gdn_err *err = NULL;
	_cleanup_free_ char *req = NULL;
	struct gdn_http_resp resp = {0};
	int sv[2];

	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	CHECK(write(sv[1], answer, strlen(answer)) == (ssize_t)strlen(answer));
	CHECK_OK(gdn_http_request(sv[0], "DELETE", "/containers/a%20b", NULL, NULL, 0, &resp, &err),
		 err);
	CHECK_INTEQ(resp.status, 200);
	CHECK(resp.content_type == NULL);
	CHECK(resp.body_len == 0);
	gdn_http_resp_free(&resp);
	close(sv[0]);
	req = read_request(sv[1]);
	CHECK_STREQ(req, "DELETE /containers/a%20b HTTP/1.1\r\nHost: api\r\nUser-Agent: gaol\r\n"
			 "Connection: close\r\n\r\n");
	close(sv[1]);
}

static void test_content_length_split(void)
{
	static const char *const pieces[] = {
	    "HTTP/1.1 201 Cre",
	    "ated\r\nconTent-leNgth:  11 \r",
	    "\n\r\n",
	    "hello",
	    " world",
	    "IGNORED",
	    NULL,
	};
	_cleanup_err_ struct gdn_err *err = NULL;
	struct gdn_http_resp resp = {0};

	CHECK_OK(request_pieces(pieces, &resp, &err), err);
	CHECK_INTEQ(resp.status, 201);
	CHECK_INTEQ(resp.body_len, 11);
	CHECK_STREQ(resp.body, "hello world");
	gdn_http_resp_free(&resp);
}

static void test_chunked_split_oddly(void)
{
	static const char *const pieces[] = {
	    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-",
	    "Encoding: chunked\r\n\r",
	    "\n5\r\nhel",
	    "lo\r\n",
	    "1",
	    "0\r\n0123456789abcdef\r",
	    "\nA\r\n",
	    "[\"x\",\"y\"]\n\r\n0",
	    "\r\n",
	    "\r\n",
	    NULL,
	};
	_cleanup_err_ struct gdn_err *err = NULL;
	struct gdn_http_resp resp = {0};

	CHECK_OK(request_pieces(pieces, &resp, &err), err);
	CHECK_INTEQ(resp.status, 200);
	CHECK_STREQ(resp.body, "hello0123456789abcdef[\"x\",\"y\"]\n");
	CHECK_INTEQ(resp.body_len, 31);
	gdn_http_resp_free(&resp);
}

static void test_close_delimited(void)
{
	static const char *const pieces[] = {
	    "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n", "first ", "second", "\n", NULL,
	};
	_cleanup_err_ struct gdn_err *err = NULL;
	struct gdn_http_resp resp = {0};

	CHECK_OK(request_pieces(pieces, &resp, &err), err);
	CHECK_INTEQ(resp.status, 200);
	CHECK_STREQ(resp.content_type, "text/plain");
	CHECK_STREQ(resp.body, "first second\n");
	gdn_http_resp_free(&resp);
}

static void test_close_delimited_empty(void)
{
	static const char *const pieces[] = {"HTTP/1.1 200 OK\r\n\r\n", NULL};
	_cleanup_err_ struct gdn_err *err = NULL;
	struct gdn_http_resp resp = {0};

	CHECK_OK(request_pieces(pieces, &resp, &err), err);
	CHECK_INTEQ(resp.status, 200);
	CHECK(resp.body_len == 0);
	gdn_http_resp_free(&resp);
}

static void test_error_404_json(void)
{
	static const char body[] = "{\"Type\":\"ContainerNotFoundError\",\"Message\":\"unknown "
				   "handle: web-1\",\"Handle\":\"web-1\",\"ProcessID\":\"\","
				   "\"Binary\":\"\"}\n";
	char head[256];
	const char *pieces[] = {head, body, NULL};
	_cleanup_err_ struct gdn_err *err = NULL;
	struct gdn_http_resp resp = {0};

	snprintf(head, sizeof(head),
		 "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
		 "Date: Fri, 28 Nov 2025 10:00:00 GMT\r\nContent-Length: %zu\r\n"
		 "Connection: close\r\n\r\n",
		 strlen(body));
	CHECK_OK(request_pieces(pieces, &resp, &err), err);
	CHECK_INTEQ(resp.status, 404);
	CHECK_STREQ(resp.content_type, "application/json");
	CHECK_STREQ(resp.body, body);
	gdn_http_resp_free(&resp);
}

static void test_interim_and_bare_lf(void)
{
	static const char *const pieces[] = {
	    "HTTP/1.1 100 Continue\r\n\r\n",
	    "HTTP/1.1 204 No Content\nX-Note: bare LF line ends\n\n",
	    NULL,
	};
	_cleanup_err_ struct gdn_err *err = NULL;
	struct gdn_http_resp resp = {0};

	CHECK_OK(request_pieces(pieces, &resp, &err), err);
	CHECK_INTEQ(resp.status, 204);
	CHECK(resp.body_len == 0);
	gdn_http_resp_free(&resp);
}

static void test_truncated_and_malformed(void)
{
	static const char *const short_cl[] = {"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n",
					       "12345", NULL};
	static const char *const short_chunk[] = {
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "5\r\nhel", NULL};
	static const char *const bad_chunk[] = {
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "zz\r\nhello\r\n", NULL};
	static const char *const nothing[] = {NULL};
	static const char *const half_head[] = {"HTTP/1.1 200 OK\r\nContent-", NULL};
	static const char *const not_http[] = {"SSH-2.0-OpenSSH_9.2\r\n\r\n", NULL};
	static const char *const bad_cl[] = {"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", NULL};
	struct {
		const char *const *pieces;
		const char *msg;
	} cases[] = {
	    {short_cl, "unexpected EOF in response body (got 5 of 10 bytes)"},
	    {short_chunk, "unexpected EOF in chunked response body"},
	    {bad_chunk, "read chunked response body"},
	    {nothing, "server closed the connection without a response"},
	    {half_head, "unexpected EOF in HTTP response head"},
	    {not_http, "malformed HTTP status line 'SSH-2.0-OpenSSH_9.2'"},
	    {bad_cl, "bad Content-Length '-1'"},
	};

	for (size_t i = 0; i < GDN_ARRAY_SIZE(cases); i++) {
		_cleanup_err_ struct gdn_err *err = NULL;
		struct gdn_http_resp resp = {0};

		CHECK(request_pieces(cases[i].pieces, &resp, &err) < 0);
		CHECK(err != NULL);
		if (!strstr(gdn_err_str(err), cases[i].msg))
			CHECK_STREQ(gdn_err_str(err), cases[i].msg);
		CHECK(resp.body == NULL && resp.content_type == NULL);
	}
}

static void test_body_cap(void)
{
	static const char *const huge_cl[] = {"HTTP/1.1 200 OK\r\nContent-Length: 67108865\r\n\r\n",
					      "x", NULL};
	_cleanup_err_ struct gdn_err *err = NULL;
	struct gdn_http_resp resp = {0};
	static const char head[] = "HTTP/1.1 200 OK\r\n\r\n";
	char block[65536];
	int sv[2];
	pid_t pid;

	CHECK_INTEQ(request_pieces(huge_cl, &resp, &err), -EFBIG);
	err = gdn_err_free(err);

	/* A close-delimited body that goes past 64 MiB. */
	memset(block, 'y', sizeof(block));
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		free(read_request(sv[1]));
		if (write(sv[1], head, strlen(head)) < 0)
			_exit(3);
		for (int i = 0; i < 64 * 16 + 1; i++)
			if (write(sv[1], block, sizeof(block)) < 0)
				_exit(0); /* the client gave up: fine */
		_exit(0);
	}
	close(sv[1]);
	CHECK_INTEQ(gdn_http_request(sv[0], "GET", "/big", NULL, NULL, 0, &resp, &err), -EFBIG);
	CHECK(strstr(gdn_err_str(err), "64 MiB") != NULL);
	close(sv[0]);
	reap(pid);
}

static void test_peer_gone(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	struct gdn_http_resp resp = {0};
	int sv[2];

	/* A write to a closed peer is EPIPE, not a SIGPIPE death. */
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	close(sv[1]);
	CHECK(gdn_http_request(sv[0], "PUT", "/x", "application/json", "{}\n", 3, &resp, &err) < 0);
	CHECK(strstr(gdn_err_str(err), "send PUT /x") != NULL);
	close(sv[0]);
}

/* --- hijacked requests ---------------------------------------------------------------------- */

/* A hijack against canned pieces over a socketpair (request read by the child). */
static int hijack_pieces(const char *const *pieces, int *status, struct gdn_buf *leftover,
			 char **error_body, struct gdn_err **err)
{
	int sv[2];
	pid_t pid;
	int r;

	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	pid = serve_pieces(sv[1], pieces);
	close(sv[1]);
	r = gdn_http_hijack(sv[0], "GET", "/containers/h/processes/p", NULL, NULL, 0, status,
			    leftover, error_body, err);
	close(sv[0]);
	reap(pid);
	return r;
}

static void test_hijack_run(void)
{
	static const char spec[] = "{\"path\":\"sh\",\"args\":[\"-c\",\"echo hi\"],\"rlimits\":{},"
				   "\"image\":{}}\n";
	static const char answer[] = "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
				     "Date: Fri, 28 Nov 2025 10:00:00 GMT\r\n"
				     "Transfer-Encoding: chunked\r\n\r\n"
				     "{\"process_id\":\"p1\",\"stream_id\":\"4\"}\n";
	_cleanup_err_ struct gdn_err *err = NULL;
	_cleanup_buf_ struct gdn_buf left = {0};
	_cleanup_free_ char *req = NULL;
	_cleanup_free_ char *want = NULL;
	char *error_body = (char *)"untouched";
	char more[64];
	int sv[2], status = 0;

	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	CHECK(write(sv[1], answer, strlen(answer)) == (ssize_t)strlen(answer));
	CHECK_OK(gdn_http_hijack(sv[0], "POST", "/containers/web-1/processes", "application/json",
				 spec, strlen(spec), &status, &left, &error_body, &err),
		 err);
	CHECK_INTEQ(status, 201);
	CHECK(error_body == NULL);
	/* The first payload was read along with the head: it is the leftover, byte for byte. */
	CHECK_STREQ(left.data, "{\"process_id\":\"p1\",\"stream_id\":\"4\"}\n");

	/* Exactly what Go's httputil.ClientConn sends: no Connection: close. */
	req = read_request(sv[1]);
	CHECK(asprintf(
		  &want,
		  "POST /containers/web-1/processes HTTP/1.1\r\nHost: api\r\nUser-Agent: gaol\r\n"
		  "Content-Length: %zu\r\nContent-Type: application/json\r\n\r\n%s",
		  strlen(spec), spec) > 0);
	CHECK_STREQ(req, want);

	/* The connection is raw from now on, both ways. */
	CHECK(write(sv[1], "{\"exit_status\":3}\n", 18) == 18);
	CHECK(read(sv[0], more, sizeof(more)) == 18);
	CHECK(memcmp(more, "{\"exit_status\":3}\n", 18) == 0);
	CHECK(write(sv[0], "{\"source\":0}\n", 13) == 13);
	CHECK(read(sv[1], more, sizeof(more)) == 13);
	close(sv[0]);
	close(sv[1]);
}

static void test_hijack_stream_request(void)
{
	static const char answer[] =
	    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"
	    "Content-Length: 0\r\n\r\n";
	_cleanup_err_ struct gdn_err *err = NULL;
	_cleanup_buf_ struct gdn_buf left = {0};
	_cleanup_free_ char *req = NULL;
	char *error_body = NULL;
	int sv[2], status = 0;

	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	CHECK(write(sv[1], answer, strlen(answer)) == (ssize_t)strlen(answer));
	/* A stale leftover is replaced, not appended to. */
	CHECK(gdn_buf_puts(&left, "stale") == 0);
	CHECK_OK(gdn_http_hijack(sv[0], "GET", "/containers/w/processes/p1/attaches/4/stdout",
				 "application/json", NULL, 0, &status, &left, &error_body, &err),
		 err);
	CHECK_INTEQ(status, 200);
	CHECK_INTEQ(left.len, 0);
	CHECK(error_body == NULL);
	close(sv[0]);
	/* Go sets Content-Type on the stream requests although they have no body. */
	req = read_request(sv[1]);
	CHECK_STREQ(req,
		    "GET /containers/w/processes/p1/attaches/4/stdout HTTP/1.1\r\nHost: api\r\n"
		    "User-Agent: gaol\r\nContent-Type: application/json\r\n\r\n");
	close(sv[1]);
}

static void test_hijack_split_head(void)
{
	static const char *const pieces[] = {
	    "HTTP/1.1 100 Continue\r\n\r\n",
	    "HTTP/1.1 200 O",
	    "K\r\nTransfer-Encoding: chunked\r",
	    "\n\r\nraw \x01\xff",
	    " bytes",
	    NULL,
	};
	_cleanup_err_ struct gdn_err *err = NULL;
	_cleanup_buf_ struct gdn_buf left = {0};
	char *error_body = NULL;
	int status = 0;

	CHECK_OK(hijack_pieces(pieces, &status, &left, &error_body, &err), err);
	CHECK_INTEQ(status, 200);
	/* Only what one read(2) returned with the head: the rest is the caller's. */
	CHECK_INTEQ(left.len, 6);
	CHECK(memcmp(left.data, "raw \x01\xff", 6) == 0);
}

static void test_hijack_error_bodies(void)
{
	static const char garden_err[] =
	    "{\"Type\":\"ProcessNotFoundError\",\"Message\":\"unknown process: p9\",\"Handle\":"
	    "\"\",\"ProcessID\":\"p9\",\"Binary\":\"\"}\n";
	char head[256];
	const char *const with_length[] = {head, garden_err, "TRAILING", NULL};
	static const char *const chunked[] = {
	    "HTTP/1.1 500 Internal Server Error\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{\"a\"",
	    "\r\n4\r\n:1}\n\r\n0\r\n\r\n", NULL};
	static const char *const to_eof[] = {"HTTP/1.1 500 Internal Server Error\r\n\r\n",
					     "no framing", " at all", NULL};
	static const char *const empty[] = {
	    "HTTP/1.1 501 Not Implemented\r\nContent-Length: 0\r\n\r\n", NULL};
	struct {
		const char *const *pieces;
		int status;
		const char *body;
	} cases[] = {
	    {with_length, 404, garden_err},
	    {chunked, 500, "{\"a\":1}\n"},
	    {to_eof, 500, "no framing at all"},
	    {empty, 501, ""},
	};

	snprintf(head, sizeof(head),
		 "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
		 "Content-Length: %zu\r\nConnection: close\r\n\r\n",
		 strlen(garden_err));
	for (size_t i = 0; i < GDN_ARRAY_SIZE(cases); i++) {
		_cleanup_err_ struct gdn_err *err = NULL;
		_cleanup_buf_ struct gdn_buf left = {0};
		_cleanup_free_ char *error_body = NULL;
		int status = 0;

		CHECK(gdn_buf_puts(&left, "stale") == 0);
		CHECK_OK(hijack_pieces(cases[i].pieces, &status, &left, &error_body, &err), err);
		CHECK_INTEQ(status, cases[i].status);
		CHECK_STREQ(error_body, cases[i].body);
		CHECK_INTEQ(left.len, 0);
	}
}

static void test_hijack_not_hijackable(void)
{
	static const char *const conn_close[] = {"HTTP/1.1 200 OK\r\nTransfer-Encoding: "
						 "chunked\r\nConnection: keep-alive, Close\r\n\r\n",
						 NULL};
	static const char *const http10[] = {"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", NULL};
	static const char *const unframed[] = {
	    "HTTP/1.1 201 Created\r\n\r\n{\"process_id\":\"x\"}\n", NULL};
	static const char *const http10_ka[] = {
	    "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", NULL};
	struct {
		const char *const *pieces;
		const char *msg;
	} cases[] = {
	    {conn_close, "the server's 200 response cannot be hijacked: it says Connection: close"},
	    {http10, "it is HTTP/1.0"},
	    {unframed, "it has neither Content-Length nor Transfer-Encoding: chunked"},
	};
	_cleanup_err_ struct gdn_err *err = NULL;
	_cleanup_buf_ struct gdn_buf left = {0};
	char *error_body = NULL;
	int status = -1;

	for (size_t i = 0; i < GDN_ARRAY_SIZE(cases); i++) {
		_cleanup_err_ struct gdn_err *e = NULL;

		CHECK_INTEQ(hijack_pieces(cases[i].pieces, &status, &left, &error_body, &e),
			    -EPROTO);
		if (!strstr(gdn_err_str(e), cases[i].msg))
			CHECK_STREQ(gdn_err_str(e), cases[i].msg);
		CHECK(strstr(gdn_err_str(e), "GET /containers/h/processes/p") != NULL);
		/* Nothing written on failure. */
		CHECK_INTEQ(status, -1);
		CHECK(left.data == NULL);
	}
	/* HTTP/1.0 with keep-alive is fine for Go. */
	CHECK_OK(hijack_pieces(http10_ka, &status, &left, &error_body, &err), err);
	CHECK_INTEQ(status, 200);
}

static void test_hijack_failures(void)
{
	static const char *const nothing[] = {NULL};
	static const char *const half_head[] = {"HTTP/1.1 201 Created\r\nTransfer-", NULL};
	static const char *const short_body[] = {
	    "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 10\r\n\r\n", "{}", NULL};
	struct {
		const char *const *pieces;
		const char *msg;
	} cases[] = {
	    {nothing, "server closed the connection without a response"},
	    {half_head, "unexpected EOF in HTTP response head"},
	    {short_body, "unexpected EOF in response body (got 2 of 10 bytes)"},
	};
	_cleanup_err_ struct gdn_err *err = NULL;
	_cleanup_buf_ struct gdn_buf left = {0};
	char *error_body = NULL;
	int sv[2], status = -1;

	for (size_t i = 0; i < GDN_ARRAY_SIZE(cases); i++) {
		_cleanup_err_ struct gdn_err *e = NULL;

		CHECK(hijack_pieces(cases[i].pieces, &status, &left, &error_body, &e) < 0);
		if (!strstr(gdn_err_str(e), cases[i].msg))
			CHECK_STREQ(gdn_err_str(e), cases[i].msg);
		CHECK_INTEQ(status, -1);
		CHECK(error_body == NULL);
	}

	/* A peer that is gone: EPIPE (not SIGPIPE), reported as the send failure. */
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	close(sv[1]);
	CHECK(gdn_http_hijack(sv[0], "POST", "/containers/h/processes", "application/json", "{}\n",
			      3, &status, &left, &error_body, &err) < 0);
	CHECK(strstr(gdn_err_str(err), "send POST /containers/h/processes") != NULL);
	close(sv[0]);
}

/* --- dialing -------------------------------------------------------------------------------- */

/* Accepts one connection on lfd in a child and answers it with pieces. */
static pid_t serve_listener(int lfd, const char *const *pieces)
{
	pid_t pid = fork();

	CHECK(pid >= 0);
	if (pid == 0) {
		int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

		if (c < 0)
			_exit(3);
		reap(serve_pieces(c, pieces));
		_exit(0);
	}
	return pid;
}

static const char *const ok_pieces[] = {"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n{}\n", NULL};

static void check_ok_request(int fd)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	struct gdn_http_resp resp = {0};

	CHECK(has_cloexec(fd));
	CHECK_OK(gdn_http_request(fd, "GET", "/ping", NULL, NULL, 0, &resp, &err), err);
	CHECK_INTEQ(resp.status, 200);
	CHECK_STREQ(resp.body, "{}\n");
	gdn_http_resp_free(&resp);
}

static void test_dial_unix(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char path[sizeof(sa.sun_path)], missing[128], longpath[200];
	int lfd, fd;
	pid_t pid;

	snprintf(path, sizeof(path), "%s/g.sock", tap_tmp);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(lfd >= 0);
	CHECK(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	CHECK(listen(lfd, 4) == 0);
	pid = serve_listener(lfd, ok_pieces);

	fd = gdn_http_dial(path, &err);
	CHECK_OK(fd, err);
	check_ok_request(fd);
	close(fd);
	reap(pid);
	close(lfd);

	snprintf(missing, sizeof(missing), "%s/nope.sock", tap_tmp);
	CHECK_INTEQ(gdn_http_dial(missing, &err), -ENOENT);
	CHECK(strstr(gdn_err_str(err), missing) != NULL);
	err = gdn_err_free(err);

	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	CHECK_INTEQ(gdn_http_dial(longpath, &err), -ENAMETOOLONG);
}

static void test_dial_tcp(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	char target[64];
	int lfd, fd;
	pid_t pid;

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(lfd >= 0);
	CHECK(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	CHECK(listen(lfd, 4) == 0);
	CHECK(getsockname(lfd, (struct sockaddr *)&sa, &len) == 0);

	for (int i = 0; i < 2; i++) {
		_cleanup_err_ struct gdn_err *err = NULL;

		/* ":PORT" is the local system, as in Go. */
		snprintf(target, sizeof(target), "%s:%u", i == 0 ? "127.0.0.1" : "",
			 ntohs(sa.sin_port));
		pid = serve_listener(lfd, ok_pieces);
		fd = gdn_http_dial(target, &err);
		CHECK_OK(fd, err);
		check_ok_request(fd);
		close(fd);
		reap(pid);
	}
	close(lfd);
}

static void test_dial_tcp6(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	socklen_t len = sizeof(sa);
	char target[64];
	int lfd, fd;
	pid_t pid;

	lfd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	/* (A full-size buffer: gcc -O1 warns about SKIP's strnlen(why, 200) on a short literal.) */
	static const char no_ipv6[200] = "no IPv6 loopback";

	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		SKIP(no_ipv6);
	CHECK(listen(lfd, 4) == 0);
	CHECK(getsockname(lfd, (struct sockaddr *)&sa, &len) == 0);
	snprintf(target, sizeof(target), "[::1]:%u", ntohs(sa.sin6_port));
	pid = serve_listener(lfd, ok_pieces);
	fd = gdn_http_dial(target, &err);
	CHECK_OK(fd, err);
	check_ok_request(fd);
	close(fd);
	reap(pid);
	close(lfd);
}

static void test_dial_errors(void)
{
	static const struct {
		const char *target;
		const char *msg;
	} cases[] = {
	    {"", "empty target"},
	    {"garden.sock", "missing port"},
	    {"127.0.0.1:", "missing port"},
	    {"::1:7777", "too many colons"},
	    {"[::1]", "missing port"},
	    {"[::1", "missing ']'"},
	    {"127.0.0.1:notaport", "resolve '127.0.0.1:notaport'"},
	};
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	_cleanup_err_ struct gdn_err *err = NULL;
	char target[64];
	int fd;

	for (size_t i = 0; i < GDN_ARRAY_SIZE(cases); i++) {
		_cleanup_err_ struct gdn_err *e = NULL;

		CHECK(gdn_http_dial(cases[i].target, &e) < 0);
		if (!strstr(gdn_err_str(e), cases[i].msg))
			CHECK_STREQ(gdn_err_str(e), cases[i].msg);
	}

	/* A port nobody listens on: bind one, then close it. */
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(fd >= 0);
	CHECK(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	CHECK(getsockname(fd, (struct sockaddr *)&sa, &len) == 0);
	close(fd);
	snprintf(target, sizeof(target), "127.0.0.1:%u", ntohs(sa.sin_port));
	CHECK_INTEQ(gdn_http_dial(target, &err), -ECONNREFUSED);
	CHECK(strstr(gdn_err_str(err), "connect to '127.0.0.1:") != NULL);
}

int main(void)
{
	static const struct tap_test tests[] = {
	    TEST(test_query_escape),
	    TEST(test_request_framing),
	    TEST(test_request_without_body),
	    TEST(test_content_length_split),
	    TEST(test_chunked_split_oddly),
	    TEST(test_close_delimited),
	    TEST(test_close_delimited_empty),
	    TEST(test_error_404_json),
	    TEST(test_interim_and_bare_lf),
	    TEST(test_truncated_and_malformed),
	    TEST(test_body_cap),
	    TEST(test_peer_gone),
	    TEST(test_hijack_run),
	    TEST(test_hijack_stream_request),
	    TEST(test_hijack_split_head),
	    TEST(test_hijack_error_bodies),
	    TEST(test_hijack_not_hijackable),
	    TEST(test_hijack_failures),
	    TEST(test_dial_unix),
	    TEST(test_dial_tcp),
	    TEST(test_dial_tcp6),
	    TEST(test_dial_errors),
	};

	return tap_run(tests, GDN_ARRAY_SIZE(tests));
}
