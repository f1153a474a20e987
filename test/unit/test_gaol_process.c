/* gaol's process side: the ProcessSpec of run/shell, UTF-8 handling of stdin chunks, and the
 * whole Run/Attach exchange (control connection, stream attachments, stdin, signal and resize
 * payloads, exit and error payloads) against a scripted fake server in a child process. */
/* link: cmd/gaol/spec.c cmd/gaol/client.c cmd/gaol/process.c cmd/gaol/tty.c */
#include <errno.h>
#include <fcntl.h>
#include <pty.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>

#include "cmd/gaol/gaol.h"
#include "lib/buf.h"
#include "test/unit/tap.h"

/* --- ProcessSpec ---------------------------------------------------------------------------- */

static void check_spec(const struct gl_process_opts *o, const char *want)
{
	json_auto_t *spec = gl_process_spec(o);
	_cleanup_free_ char *got = NULL;

	CHECK(spec != NULL);
	got = json_dumps(spec, JSON_COMPACT);
	CHECK_STREQ(got, want);
}

static void test_spec_command(void)
{
	static const char *const args[] = {"-c", "echo hi; exit 3"};
	struct gl_process_opts o = {.path = "sh", .args = args, .n_args = 2};

	/* The example of garden-protocol.md §5.3, byte for byte. */
	check_spec(&o, "{\"path\":\"sh\",\"args\":[\"-c\",\"echo hi; exit 3\"],\"rlimits\":{},"
		       "\"image\":{}}");
}

static void test_spec_full(void)
{
	static const char *const args[] = {"-n", "a\xff"};
	static const char *const env[] = {"A=1", "B=two words"};
	struct gl_process_opts o = {
	    .id = "p-1",
	    .path = "/bin/echo",
	    .args = args,
	    .n_args = 2,
	    .env = env,
	    .n_env = 2,
	    .dir = "/var/x",
	    .user = "vcap",
	    .tty = true,
	    .columns = 132,
	    .rows = 43,
	};

	/* ProcessSpec's field order; invalid UTF-8 repaired as Go does. */
	check_spec(&o, "{\"id\":\"p-1\",\"path\":\"/bin/echo\",\"args\":[\"-n\",\"a\xef\xbf\xbd\"],"
		       "\"env\":[\"A=1\",\"B=two words\"],\"dir\":\"/var/x\",\"user\":\"vcap\","
		       "\"rlimits\":{},\"tty\":{\"window_size\":{\"columns\":132,\"rows\":43}},"
		       "\"image\":{}}");
}

static void test_spec_empty_strings_omitted(void)
{
	struct gl_process_opts o = {.id = "", .path = "true", .dir = "", .user = ""};

	check_spec(&o, "{\"path\":\"true\",\"rlimits\":{},\"image\":{}}");
}

/* --- UTF-8 ---------------------------------------------------------------------------------- */

static void test_utf8_complete_len(void)
{
	static const struct {
		const char *s;
		size_t want;
	} cases[] = {
	    {"", 0},
	    {"abc", 3},
	    {"ab\xc3", 2},		 /* é cut after its lead byte */
	    {"ab\xc3\xa9", 4},		 /* é complete */
	    {"\xe2\x82", 0},		 /* € cut after 2 of 3 */
	    {"x\xe2\x82\xac", 4},	 /* € complete */
	    {"x\xf0\x9f\x98", 1},	 /* an emoji cut after 3 of 4 */
	    {"x\xf0\x9f\x98\x80", 5},	 /* complete */
	    {"x\xff", 2},		 /* invalid: nothing to wait for */
	    {"x\xe0\x80", 3},		 /* overlong start: invalid already */
	    {"x\xed\xa0", 3},		 /* a surrogate: invalid already */
	    {"x\xf4\x90", 3},		 /* above U+10FFFF: invalid already */
	    {"\x80\x80\x80", 3},	 /* stray continuation bytes */
	    {"\xc3\xa9\x80\x80\xc3", 4}, /* only the last sequence counts */
	};

	for (size_t i = 0; i < GDN_ARRAY_SIZE(cases); i++)
		CHECK_INTEQ(gl_utf8_complete_len(cases[i].s, strlen(cases[i].s)), cases[i].want);
}

static void test_json_stringn(void)
{
	json_auto_t *s = gl_json_stringn("a\0b\xc3(\xe2\x82\xac", 8);
	_cleanup_free_ char *text = json_dumps(s, JSON_ENCODE_ANY);

	/* NUL is a valid character; a bad sequence is one U+FFFD per byte, as in Go. */
	CHECK_STREQ(text, "\"a\\u0000b\xef\xbf\xbd(\xe2\x82\xac\"");
}

static void test_json_line_like_go(void)
{
	json_auto_t *v =
	    json_pack("{s:s,s:[s,s],s:i}", "a<b>", "x & y \xe2\x80\xa8\xe2\x80\xa9 \x1b\n\t\"\\",
		      "k", "</script>", "\xc3\xa9", "n", 3);
	_cleanup_free_ char *line = NULL;
	size_t len = 0;

	CHECK(v != NULL);
	line = gl_json_line(v, &len);
	CHECK_STREQ(line,
		    "{\"a\\u003cb\\u003e\":\"x \\u0026 y \\u2028\\u2029 \\u001b\\n\\t\\\"\\\\\","
		    "\"k\":[\"\\u003c/script\\u003e\",\"\xc3\xa9\"],\"n\":3}\n");
	CHECK_INTEQ(len, strlen(line));
}

/* --- a scripted fake server ----------------------------------------------------------------- */

static const char run_head[] = "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
			       "Date: Fri, 28 Nov 2025 10:00:00 GMT\r\n"
			       "Transfer-Encoding: chunked\r\n\r\n";
static const char attach_head[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
				  "Transfer-Encoding: chunked\r\n\r\n";
static const char stream_head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"
				  "Transfer-Encoding: chunked\r\n\r\n";
static const char first_payload[] = "{\"process_id\":\"p1\",\"stream_id\":\"7\"}\n";

static int listen_unix(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	CHECK(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/g.sock", tap_tmp);
	CHECK(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	CHECK(listen(fd, 8) == 0);
	arg_target = strdup(sa.sun_path);
	return fd;
}

/* Reads one request: the head and a Content-Length body. */
static char *read_request(int fd)
{
	struct gdn_buf b = {0};
	char c;

	for (;;) {
		char *end = b.data ? strstr(b.data, "\r\n\r\n") : NULL;

		if (end) {
			const char *cl = strcasestr(b.data, "\r\nContent-Length: ");
			size_t need = (size_t)(end + 4 - b.data);

			if (cl && cl < end)
				need += strtoul(cl + 18, NULL, 10);
			if (b.len >= need)
				break;
		}
		/* One byte at a time: nothing after the request is consumed. */
		if (read(fd, &c, 1) != 1)
			break;
		CHECK(gdn_buf_append(&b, &c, 1) == 0);
	}
	return gdn_buf_steal(&b, NULL);
}

static void put(int fd, const char *s)
{
	CHECK(write(fd, s, strlen(s)) == (ssize_t)strlen(s));
}

/* Accepts a connection and checks its request line (and, if want != NULL, the whole request). */
static int accept_request(int lfd, const char *line, const char *want)
{
	int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	_cleanup_free_ char *req = NULL;

	CHECK(c >= 0);
	req = read_request(c);
	CHECK(req != NULL);
	if (strncmp(req, line, strlen(line)) != 0)
		CHECK_STREQ(req, line);
	if (want)
		CHECK_STREQ(req, want);
	return c;
}

/* Reads payload lines from the control connection until one equals `last` (included). */
static char *read_payloads_until(int fd, const char *last)
{
	struct gdn_buf b = {0};
	char c;

	while (read(fd, &c, 1) == 1) {
		CHECK(gdn_buf_append(&b, &c, 1) == 0);
		if (c == '\n' && b.len >= strlen(last) &&
		    strcmp(b.data + b.len - strlen(last), last) == 0)
			break;
	}
	return gdn_buf_steal(&b, NULL);
}

static pid_t fork_server(void)
{
	pid_t pid = fork();

	CHECK(pid >= 0);
	if (pid == 0)
		alarm(20);
	return pid;
}

static void reap_ok(pid_t pid)
{
	int status;

	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static char *slurp(const char *path)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct gdn_buf b = {0};
	char tmp[4096];
	ssize_t n;

	CHECK(fd >= 0);
	while ((n = read(fd, tmp, sizeof(tmp))) > 0)
		CHECK(gdn_buf_append(&b, tmp, (size_t)n) == 0);
	if (!b.data)
		return strdup("");
	return gdn_buf_steal(&b, NULL);
}

static int out_file(const char *name)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", tap_tmp, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	return fd;
}

static char *out_text(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/%s", tap_tmp, name);
	return slurp(path);
}

/* Accepts an Attach to p1 of "h" and answers it with the head and the first payload. */
static int accept_control(int lfd)
{
	int ctl = accept_request(lfd, "GET /containers/h/processes/p1 ", NULL);

	put(ctl, attach_head);
	put(ctl, first_payload);
	return ctl;
}

/* accept_control, then both stream attachments, answered with their heads. */
static int accept_attach(int lfd, int *ret_so, int *ret_se)
{
	int ctl = accept_control(lfd);

	*ret_so = accept_request(lfd, "GET /containers/h/processes/p1/attaches/7/stdout ", NULL);
	put(*ret_so, stream_head);
	*ret_se = accept_request(lfd, "GET /containers/h/processes/p1/attaches/7/stderr ", NULL);
	put(*ret_se, stream_head);
	return ctl;
}

/* --- Run with stdin, stdout and stderr ------------------------------------------------------ */

static void test_run_attached(void)
{
	static const char *const args[] = {"-c", "cat; echo err >&2; exit 42"};
	const struct gl_process_opts o = {.path = "sh", .args = args, .n_args = 2};
	static const char want_stdin[] =
	    "{\"process_id\":\"p1\",\"source\":0,\"data\":\"hello \"}\n"
	    "{\"process_id\":\"p1\",\"source\":0,\"data\":\"\xc3\xa9 world\\n\xef\xbf\xbd\"}\n"
	    "{\"process_id\":\"p1\",\"source\":0}\n";
	_cleanup_err_ struct gdn_err *err = NULL;
	_cleanup_free_ char *out = NULL;
	_cleanup_free_ char *errout = NULL;
	struct gl_process p = {.control = -1};
	json_auto_t *spec = gl_process_spec(&o);
	int lfd = listen_unix(), in[2];
	struct gl_io io = {.sigfd = -1, .tty_fd = -1};
	pid_t pid;

	pid = fork_server();
	if (pid == 0) {
		_cleanup_free_ char *payloads = NULL;
		int ctl, so, se;

		ctl = accept_request(
		    lfd, "",
		    "POST /containers/h%201/processes HTTP/1.1\r\nHost: api\r\nUser-Agent: gaol\r\n"
		    "Content-Length: 91\r\nContent-Type: application/json\r\n\r\n"
		    "{\"path\":\"sh\",\"args\":[\"-c\",\"cat; echo err \\u003e\\u00262; exit 42\"],"
		    "\"rlimits\":{},\"image\":{}}\n");
		/* Head and first payload in separate writes, then the streams' requests. */
		put(ctl, run_head);
		put(ctl, first_payload);
		so = accept_request(
		    lfd, "",
		    "GET /containers/h%201/processes/p1/attaches/7/stdout HTTP/1.1\r\n"
		    "Host: api\r\nUser-Agent: gaol\r\nContent-Type: application/json"
		    "\r\n\r\n");
		put(so, stream_head);
		se = accept_request(lfd, "GET /containers/h%201/processes/p1/attaches/7/stderr ",
				    NULL);
		/* Output in the same write as the head: gaol must not lose it. */
		CHECK(dprintf(se, "%serr\n", stream_head) > 0);
		payloads = read_payloads_until(ctl, "{\"process_id\":\"p1\",\"source\":0}\n");
		CHECK_STREQ(payloads, want_stdin);
		put(so, "out:");
		put(so, "hello \xc3\xa9 world\n\xef\xbf\xbd");
		close(so);
		close(se);
		put(ctl, "{\"process_id\":\"p1\",\"exit_status\":42}\n");
		close(ctl);
		_exit(0);
	}
	close(lfd);

	/* A SEQPACKET pair: each read returns one packet, so é is split between two reads. */
	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, in) == 0);
	put(in[1], "hello \xc3");
	put(in[1], "\xa9 world\n\xff");
	CHECK(shutdown(in[1], SHUT_WR) == 0);
	io.in = in[0];
	io.out = out_file("out");
	io.err = out_file("err");

	CHECK_OK(gl_process_open(&p, "POST", "/containers/h%201/processes", spec, &err), err);
	CHECK_STREQ(p.id, "p1");
	CHECK_STREQ(p.stream_id, "7");
	CHECK_INTEQ(gl_process_wait(&p, "h 1", &io, &err), 42);
	gl_process_close(&p);
	reap_ok(pid);
	out = out_text("out");
	errout = out_text("err");
	CHECK_STREQ(out, "out:hello \xc3\xa9 world\n\xef\xbf\xbd");
	CHECK_STREQ(errout, "err\n");
}

/* --- Attach to a process that has already exited -------------------------------------------- */

static void test_attach_exited(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	_cleanup_free_ char *out = NULL;
	struct gl_process p = {.control = -1};
	int lfd = listen_unix();
	struct gl_io io = {.in = -1, .sigfd = -1, .tty_fd = -1};
	pid_t pid;

	pid = fork_server();
	if (pid == 0) {
		int ctl, so, se;

		ctl = accept_request(lfd, "",
				     "GET /containers/h/processes/p1 HTTP/1.1\r\nHost: api\r\n"
				     "User-Agent: gaol\r\n\r\n");
		/* Everything at once, exit payload included. */
		CHECK(dprintf(ctl, "%s%s{\"process_id\":\"p1\",\"exit_status\":7}\n", attach_head,
			      first_payload) > 0);
		close(ctl);
		so = accept_request(lfd, "GET /containers/h/processes/p1/attaches/7/stdout ", NULL);
		CHECK(dprintf(so, "%sbuffered output\n", stream_head) > 0);
		close(so);
		se = accept_request(lfd, "GET /containers/h/processes/p1/attaches/7/stderr ", NULL);
		put(se, stream_head);
		close(se);
		_exit(0);
	}
	close(lfd);
	io.out = out_file("out");
	io.err = out_file("err");
	CHECK_OK(gl_process_open(&p, "GET", "/containers/h/processes/p1", NULL, &err), err);
	CHECK_INTEQ(gl_process_wait(&p, "h", &io, &err), 7);
	gl_process_close(&p);
	reap_ok(pid);
	out = out_text("out");
	CHECK_STREQ(out, "buffered output\n");
}

/* --- Failures ------------------------------------------------------------------------------- */

/* Serves control (with `after` following the first payload) and two empty streams. */
static pid_t serve_simple(int lfd, const char *after, bool close_streams)
{
	pid_t pid = fork_server();

	if (pid == 0) {
		int so, se;
		int ctl = accept_attach(lfd, &so, &se);

		if (close_streams) {
			close(so);
			close(se);
		}
		put(ctl, after);
		close(ctl);
		if (!close_streams)
			pause(); /* the parent kills us */
		_exit(0);
	}
	return pid;
}

static int attach_simple(struct gdn_err **err)
{
	struct gl_process p = {.control = -1};
	struct gl_io io = {
	    .in = -1, .out = out_file("out"), .err = out_file("err"), .sigfd = -1, .tty_fd = -1};
	int r;

	r = gl_process_open(&p, "GET", "/containers/h/processes/p1", NULL, err);
	if (r >= 0)
		r = gl_process_wait(&p, "h", &io, err);
	gl_process_close(&p);
	return r;
}

static void test_error_payload(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	int lfd = listen_unix();
	pid_t pid = serve_simple(
	    lfd, "{\"process_id\":\"p1\",\"error\":\"the exitcode file is empty\"}\n", true);

	close(lfd);
	CHECK(attach_simple(&err) < 0);
	CHECK_STREQ(gdn_err_str(err), "the exitcode file is empty");
	reap_ok(pid);
}

static void test_control_ends_early(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	int lfd = listen_unix();
	/* The server shuts down: the control connection ends without an exit payload, while the
	 * streams stay open. gaol must not hang on them. */
	pid_t pid = serve_simple(lfd, "", false);

	close(lfd);
	CHECK(attach_simple(&err) < 0);
	CHECK(strstr(gdn_err_str(err), "ended before the process exited") != NULL);
	CHECK(strstr(gdn_err_str(err), "gaol attach -p p1 h") != NULL);
	CHECK(kill(pid, SIGKILL) == 0);
	CHECK(waitpid(pid, NULL, 0) == pid);
}

static void test_not_found(void)
{
	static const char body[] =
	    "{\"Type\":\"ProcessNotFoundError\",\"Message\":\"unknown process: "
	    "p9\",\"Handle\":\"\",\"ProcessID\":\"p9\",\"Binary\":\"\"}\n";
	_cleanup_err_ struct gdn_err *err = NULL;
	struct gl_process p = {.control = -1};
	int lfd = listen_unix();
	pid_t pid = fork_server();

	if (pid == 0) {
		int c = accept_request(lfd, "GET /containers/h/processes/p9 ", NULL);

		CHECK(dprintf(c,
			      "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
			      "Content-Length: %zu\r\n\r\n%s",
			      strlen(body), body) > 0);
		_exit(0);
	}
	close(lfd);
	CHECK_INTEQ(gl_process_open(&p, "GET", "/containers/h/processes/p9", NULL, &err), -ENOENT);
	CHECK(err->kind == GDN_ERR_PROCESS_NOT_FOUND);
	CHECK_STREQ(gdn_err_str(err), "unknown process: p9");
	gl_process_close(&p);
	reap_ok(pid);
}

static void test_stream_hijack_fails(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	int lfd = listen_unix();
	pid_t pid = fork_server();

	if (pid == 0) {
		int ctl = accept_control(lfd);
		int so =
		    accept_request(lfd, "GET /containers/h/processes/p1/attaches/7/stdout ", NULL);

		/* Not hijackable for Go's client: no framing. */
		put(so, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n");
		close(so);
		close(ctl);
		_exit(0);
	}
	close(lfd);
	CHECK(attach_simple(&err) < 0);
	CHECK(strstr(gdn_err_str(err), "failed to hijack the stdout stream") != NULL);
	CHECK(strstr(gdn_err_str(err), "neither Content-Length nor") != NULL);
	reap_ok(pid);
}

static void test_bad_first_payload(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	struct gl_process p = {.control = -1};
	int lfd = listen_unix();
	pid_t pid = fork_server();

	if (pid == 0) {
		int ctl = accept_request(lfd, "GET /containers/h/processes/p1 ", NULL);

		put(ctl, attach_head);
		put(ctl, "{\"stream_id\":\"7\"}\n");
		_exit(0);
	}
	close(lfd);
	CHECK(gl_process_open(&p, "GET", "/containers/h/processes/p1", NULL, &err) < 0);
	CHECK(strstr(gdn_err_str(err), "no process_id") != NULL);
	gl_process_close(&p);
	reap_ok(pid);
}

/* --- Signals and window size ---------------------------------------------------------------- */

static void send_siginfo(int fd, int signo)
{
	struct signalfd_siginfo si = {.ssi_signo = (uint32_t)signo};

	CHECK(write(fd, &si, sizeof(si)) == (ssize_t)sizeof(si));
}

static void test_signal_and_resize(void)
{
	static const char want[] =
	    "{\"process_id\":\"p1\",\"tty\":{\"window_size\":{\"columns\":132,\"rows\":43}}}\n"
	    "{\"process_id\":\"p1\",\"signal\":0}\n";
	_cleanup_err_ struct gdn_err *err = NULL;
	struct gl_process p = {.control = -1};
	struct winsize ws = {.ws_col = 132, .ws_row = 43};
	int lfd = listen_unix(), sig[2], master, slave;
	struct gl_io io = {.in = -1, .out = out_file("out"), .err = out_file("err")};
	pid_t pid;

	/* A terminal of our own whose size the resize payload must carry. */
	CHECK(openpty(&master, &slave, NULL, NULL, &ws) == 0);
	CHECK(fcntl(master, F_SETFD, FD_CLOEXEC) == 0 && fcntl(slave, F_SETFD, FD_CLOEXEC) == 0);
	pid = fork_server();
	if (pid == 0) {
		_cleanup_free_ char *payloads = NULL;
		int so, se;
		int ctl = accept_attach(lfd, &so, &se);

		payloads = read_payloads_until(ctl, "{\"process_id\":\"p1\",\"signal\":0}\n");
		CHECK_STREQ(payloads, want);
		close(so);
		close(se);
		put(ctl, "{\"process_id\":\"p1\",\"exit_status\":143}\n");
		_exit(0);
	}
	close(lfd);
	/* A pipe stands in for the signalfd: same records. */
	CHECK(pipe2(sig, O_CLOEXEC) == 0);
	io.sigfd = sig[0];
	io.tty_fd = slave;
	send_siginfo(sig[1], SIGWINCH);
	send_siginfo(sig[1], SIGTERM);
	CHECK_OK(gl_process_open(&p, "GET", "/containers/h/processes/p1", NULL, &err), err);
	CHECK_INTEQ(gl_process_wait(&p, "h", &io, &err), 143);
	gl_process_close(&p);
	reap_ok(pid);
}

static void test_tty_size(void)
{
	struct winsize ws = {.ws_col = 100, .ws_row = 30};
	unsigned c, r;
	int master, slave;

	gl_tty_size(-1, &c, &r);
	CHECK(c == 80 && r == 24);
	CHECK(openpty(&master, &slave, NULL, NULL, &ws) == 0);
	gl_tty_size(slave, &c, &r);
	CHECK(c == 100 && r == 30);
	/* A zero size (a terminal nobody sized) is the default. */
	ws = (struct winsize){0};
	CHECK(ioctl(slave, TIOCSWINSZ, &ws) == 0);
	gl_tty_size(slave, &c, &r);
	CHECK(c == 80 && r == 24);
}

static void test_tty_raw_restore(void)
{
	struct termios before, during, after;
	int master, slave;

	CHECK(openpty(&master, &slave, NULL, NULL, NULL) == 0);
	CHECK(tcgetattr(slave, &before) == 0);
	CHECK(before.c_lflag & ICANON);
	CHECK_INTEQ(gl_tty_raw(slave), 0);
	CHECK(tcgetattr(slave, &during) == 0);
	CHECK(!(during.c_lflag & (ICANON | ECHO | ISIG)));
	CHECK(!(during.c_oflag & OPOST));
	gl_tty_restore();
	gl_tty_restore(); /* twice is fine */
	CHECK(tcgetattr(slave, &after) == 0);
	CHECK(after.c_lflag == before.c_lflag && after.c_oflag == before.c_oflag &&
	      after.c_iflag == before.c_iflag);
	/* Not a terminal: an error, and nothing to restore. */
	CHECK(gl_tty_raw(master == 0 ? 1 : -1) < 0);
	gl_tty_restore();
}

int main(void)
{
	static const struct tap_test tests[] = {
	    TEST(test_spec_command),
	    TEST(test_spec_full),
	    TEST(test_spec_empty_strings_omitted),
	    TEST(test_utf8_complete_len),
	    TEST(test_json_stringn),
	    TEST(test_json_line_like_go),
	    TEST(test_run_attached),
	    TEST(test_attach_exited),
	    TEST(test_error_payload),
	    TEST(test_control_ends_early),
	    TEST(test_not_found),
	    TEST(test_stream_hijack_fails),
	    TEST(test_bad_first_payload),
	    TEST(test_signal_and_resize),
	    TEST(test_tty_size),
	    TEST(test_tty_raw_restore),
	};

	signal(SIGPIPE, SIG_IGN);
	return tap_run(tests, GDN_ARRAY_SIZE(tests));
}
