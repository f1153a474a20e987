#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include "lib/ipc.h"
#include "lib/fs.h"
#include "test/unit/tap.h"

static void seqpacket(int sv[2])
{
	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
}

static void test_encode(void)
{
	json_auto_t *m = json_pack("{s:s, s:i}", "op", "a\nb", "id", 3);
	size_t len = 0;
	char *s = gdn_ipc_encode(m, &len);

	CHECK_STREQ(s, "{\"op\":\"a\\nb\",\"id\":3}\n");
	CHECK_INTEQ(len, strlen(s));
	free(s);
}

static void test_fds_roundtrip(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	json_auto_t *m =
	    json_pack("{s:s, s:[s,s,s]}", "op", "attach", "fds", "stdin", "stdout", "stderr");
	json_auto_t *got = NULL;
	int sv[2], p[3][2], wfds[3], rfds[GDN_IPC_MAX_FDS];
	size_t n = 0;

	seqpacket(sv);
	for (int i = 0; i < 3; i++) {
		CHECK(pipe2(p[i], O_CLOEXEC) == 0);
		wfds[i] = p[i][1];
	}
	CHECK_OK(gdn_ipc_send(sv[0], m, wfds, 3, &err), err);
	for (int i = 0; i < 3; i++)
		close(p[i][1]); /* only the received copies keep the pipes open */
	CHECK_INTEQ(gdn_ipc_recv(sv[1], &got, rfds, &n, &err), 1);
	CHECK(err == NULL);
	CHECK_INTEQ(n, 3);
	CHECK_STREQ(json_string_value(json_object_get(got, "op")), "attach");
	CHECK_STREQ(json_string_value(json_array_get(json_object_get(got, "fds"), 2)), "stderr");
	for (int i = 0; i < 3; i++) {
		char c = (char)('a' + i), r = 0;

		CHECK(fcntl(rfds[i], F_GETFD) & FD_CLOEXEC);
		CHECK_INTEQ(write(rfds[i], &c, 1), 1);
		close(rfds[i]);
		CHECK_INTEQ(read(p[i][0], &r, 1), 1);
		CHECK(r == c);
		CHECK_INTEQ(read(p[i][0], &r, 1), 0); /* EOF: no stray copy is left open */
		close(p[i][0]);
	}
	close(sv[0]);
	close(sv[1]);
}

static void test_no_fds_and_eof(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	json_auto_t *m = json_pack("{s:i}", "id", 1);
	json_t *got = NULL;
	int sv[2], fds[GDN_IPC_MAX_FDS];
	size_t n = 99;

	seqpacket(sv);
	CHECK_OK(gdn_ipc_send(sv[0], m, NULL, 0, &err), err);
	CHECK_INTEQ(gdn_ipc_recv(sv[1], &got, NULL, NULL, &err), 1);
	CHECK(json_equal(got, m));
	json_decref(got);
	CHECK_OK(gdn_ipc_send(sv[0], m, NULL, 0, &err), err);
	CHECK_INTEQ(gdn_ipc_recv(sv[1], &got, fds, &n, &err), 1);
	CHECK_INTEQ(n, 0);
	json_decref(got);
	close(sv[0]);
	CHECK_INTEQ(gdn_ipc_recv(sv[1], &got, fds, &n, &err), 0);
	CHECK(got == NULL);
	CHECK(err == NULL);
	close(sv[1]);
}

static void test_unexpected_fds_closed(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	json_auto_t *m = json_pack("{}");
	json_t *got = NULL;
	int sv[2], p[2];
	char c;

	seqpacket(sv);
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	CHECK_OK(gdn_ipc_send(sv[0], m, &p[1], 1, &err), err);
	close(p[1]);
	CHECK_INTEQ(gdn_ipc_recv(sv[1], &got, NULL, NULL, &err), -EBADMSG);
	CHECK(got == NULL);
	CHECK(err != NULL);
	CHECK_INTEQ(read(p[0], &c, 1), 0); /* the received copy was closed */
}

static void raw_send(int fd, const char *data, size_t len)
{
	CHECK_INTEQ(send(fd, data, len, 0), (ssize_t)len);
}

static void test_bad_packets(void)
{
	static const char *const bad[] = {"{\"a\":1}", "{bad\n", "{\"a\":1,\"a\":2}\n", "\n",
					  "[1,2]x\n"};
	int sv[2], fds[GDN_IPC_MAX_FDS];
	size_t n;

	seqpacket(sv);
	for (size_t i = 0; i < GDN_ARRAY_SIZE(bad); i++) {
		_cleanup_err_ struct gdn_err *err = NULL;
		json_t *got = NULL;

		raw_send(sv[0], bad[i], strlen(bad[i]));
		CHECK_INTEQ(gdn_ipc_recv(sv[1], &got, fds, &n, &err), -EBADMSG);
		CHECK(got == NULL);
		CHECK(err != NULL);
	}
}

static void test_truncated_and_too_long(void)
{
	_cleanup_err_ struct gdn_err *err = NULL, *err2 = NULL;
	size_t big = GDN_IPC_MAX_LINE + 100;
	_cleanup_free_ char *data = malloc(big);
	json_auto_t *m = NULL;
	json_t *got = NULL;
	int sv[2], sz = 8 * 1024 * 1024;

	seqpacket(sv);
	CHECK(data != NULL);
	if (setsockopt(sv[0], SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) < 0)
		SKIP("cannot raise SO_SNDBUF");
	memset(data, ' ', big);
	data[0] = '{';
	data[big - 2] = '}';
	data[big - 1] = '\n';
	raw_send(sv[0], data, big);
	CHECK_INTEQ(gdn_ipc_recv(sv[1], &got, NULL, NULL, &err), -EMSGSIZE);
	CHECK(strstr(gdn_err_str(err), "truncated") != NULL);
	/* the sender refuses over-long lines itself */
	data[big - 1] = '\0';
	m = json_pack("{s:s}", "k", data);
	CHECK(m != NULL);
	CHECK_INTEQ(gdn_ipc_send(sv[0], m, NULL, 0, &err2), -EMSGSIZE);
}

static void test_large_message(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	size_t big = 900 * 1024;
	_cleanup_free_ char *data = malloc(big + 1);
	json_auto_t *m = NULL;
	json_t *got = NULL;
	int sv[2];

	seqpacket(sv);
	CHECK(data != NULL);
	memset(data, 'q', big);
	data[big] = '\0';
	m = json_pack("{s:s}", "blob", data);
	/* larger than the default socket send buffer: the sender grows it */
	CHECK_OK(gdn_ipc_send(sv[0], m, NULL, 0, &err), err);
	CHECK_INTEQ(gdn_ipc_recv(sv[1], &got, NULL, NULL, &err), 1);
	CHECK_INTEQ(strlen(json_string_value(json_object_get(got, "blob"))), big);
	json_decref(got);
}

static void test_send_argument_checks(void)
{
	_cleanup_err_ struct gdn_err *e1 = NULL, *e2 = NULL, *e3 = NULL;
	json_auto_t *m = json_pack("{}");
	int fds[GDN_IPC_MAX_FDS + 1] = {0}, p[2], st[2];

	CHECK(pipe2(p, O_CLOEXEC) == 0);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, st) == 0);
	CHECK_INTEQ(gdn_ipc_send(p[1], m, fds, GDN_IPC_MAX_FDS + 1, &e1), -EINVAL);
	CHECK_INTEQ(gdn_ipc_send(p[1], m, fds, 1, &e2), -EINVAL); /* fds need SEQPACKET */
	CHECK_INTEQ(gdn_ipc_send(st[0], m, fds, 1, &e3), -EINVAL);
	CHECK(e1 && e2 && e3);
}

static void test_pipe_send_and_lines(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	struct gdn_lines lr = {0};
	json_auto_t *a = json_pack("{s:i}", "a", 1);
	json_t *got = NULL;
	int p[2];

	CHECK(pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0);
	CHECK_OK(gdn_ipc_send(p[1], a, NULL, 0, &err), err);
	CHECK_INTEQ(write(p[1], "{\"b\"", 4), 4);
	CHECK(gdn_lines_fill(&lr, p[0]) > 0);
	CHECK_INTEQ(gdn_lines_next(&lr, &got, &err), 1);
	CHECK(json_equal(got, a));
	json_decref(got);
	CHECK_INTEQ(gdn_lines_next(&lr, &got, &err), 0); /* "{"b"" is not complete yet */
	CHECK(got == NULL);
	CHECK_INTEQ(gdn_lines_fill(&lr, p[0]), -EAGAIN);
	CHECK_INTEQ(write(p[1], ":2}\n\n{\"c\":3}", 12), 12);
	CHECK(gdn_lines_fill(&lr, p[0]) > 0);
	CHECK_INTEQ(gdn_lines_next(&lr, &got, &err), 1);
	CHECK_INTEQ(json_integer_value(json_object_get(got, "b")), 2);
	json_decref(got);
	CHECK_INTEQ(gdn_lines_next(&lr, &got, &err), 0); /* blank line skipped, "c" incomplete */
	close(p[1]);
	CHECK_INTEQ(gdn_lines_fill(&lr, p[0]), 0);
	CHECK(lr.eof);
	CHECK_INTEQ(gdn_lines_next(&lr, &got, &err), 1); /* unterminated last line at EOF */
	CHECK_INTEQ(json_integer_value(json_object_get(got, "c")), 3);
	json_decref(got);
	CHECK_INTEQ(gdn_lines_next(&lr, &got, &err), 0);
	CHECK(err == NULL);
	gdn_lines_free(&lr);
	close(p[0]);
}

static void test_lines_byte_by_byte(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	struct gdn_lines lr = {0};
	const char *in = "{\"x\":\"y\"}\n[1]\n";
	json_t *got = NULL;
	int p[2], seen = 0;

	CHECK(pipe2(p, O_CLOEXEC) == 0);
	for (size_t i = 0; in[i]; i++) {
		CHECK_INTEQ(write(p[1], &in[i], 1), 1);
		CHECK_INTEQ(gdn_lines_fill(&lr, p[0]), 1);
		while (gdn_lines_next(&lr, &got, &err) == 1) {
			seen++;
			json_decref(got);
		}
	}
	CHECK_INTEQ(seen, 2);
	gdn_lines_free(&lr);
}

static void test_lines_errors(void)
{
	struct gdn_lines lr = {0};
	json_t *got = NULL;
	_cleanup_free_ char *big = malloc(GDN_IPC_MAX_LINE + 10);

	CHECK(big != NULL);
	{
		_cleanup_err_ struct gdn_err *err = NULL;

		gdn_buf_puts(&lr.buf, "{nope}\n{\"ok\":true}\n");
		CHECK_INTEQ(gdn_lines_next(&lr, &got, &err), -EBADMSG);
		CHECK(err != NULL);
		CHECK(got == NULL);
	}
	{
		_cleanup_err_ struct gdn_err *err = NULL;

		CHECK_INTEQ(gdn_lines_next(&lr, &got, &err), 1); /* the reader recovers */
		CHECK(json_is_true(json_object_get(got, "ok")));
		json_decref(got);
	}
	memset(big, 'x', GDN_IPC_MAX_LINE + 10);
	{
		_cleanup_err_ struct gdn_err *err = NULL;

		gdn_buf_append(&lr.buf, big, GDN_IPC_MAX_LINE + 10); /* no newline at all */
		CHECK_INTEQ(gdn_lines_next(&lr, &got, &err), -EBADMSG);
		CHECK(strstr(gdn_err_str(err), "longer") != NULL);
	}
	{
		_cleanup_err_ struct gdn_err *err = NULL;

		gdn_buf_append(&lr.buf, big, GDN_IPC_MAX_LINE + 1);
		gdn_buf_puts(&lr.buf, "\n{}\n");
		CHECK_INTEQ(gdn_lines_next(&lr, &got, &err), -EBADMSG);
	}
	{
		_cleanup_err_ struct gdn_err *err = NULL;

		CHECK_INTEQ(gdn_lines_next(&lr, &got, &err), 1);
		json_decref(got);
	}
	gdn_lines_free(&lr);
}

static void test_read_line_pipe_and_stream(void)
{
	int p[2], st[2];
	int *fds[2] = {p, st};

	CHECK(pipe2(p, O_CLOEXEC) == 0);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, st) == 0);
	for (int k = 0; k < 2; k++) {
		_cleanup_err_ struct gdn_err *err = NULL;
		int *f = fds[k];
		json_t *got = NULL;
		char rest[16] = "";

		CHECK_INTEQ(write(f[1], "{\"n\":1}\n\n{\"n\":2}\nTAIL", 21), 21);
		CHECK_INTEQ(gdn_ipc_read_line(f[0], &got, &err), 1);
		CHECK_INTEQ(json_integer_value(json_object_get(got, "n")), 1);
		json_decref(got);
		CHECK_INTEQ(gdn_ipc_read_line(f[0], &got, &err), 1);
		CHECK_INTEQ(json_integer_value(json_object_get(got, "n")), 2);
		json_decref(got);
		/* nothing after the line was consumed */
		CHECK_INTEQ(read(f[0], rest, 4), 4);
		CHECK_STREQ(rest, "TAIL");
		CHECK_INTEQ(write(f[1], "{\"n\":3}", 7), 7);
		close(f[1]);
		CHECK_INTEQ(gdn_ipc_read_line(f[0], &got, &err), 1); /* EOF ends the last line */
		json_decref(got);
		CHECK_INTEQ(gdn_ipc_read_line(f[0], &got, &err), 0);
		CHECK(got == NULL);
		CHECK(err == NULL);
		close(f[0]);
	}
}

static void test_read_line_seqpacket_and_invalid(void)
{
	_cleanup_err_ struct gdn_err *err = NULL, *err2 = NULL;
	json_auto_t *m = json_pack("{s:s}", "op", "ping");
	json_t *got = NULL;
	int sv[2], p[2];

	seqpacket(sv);
	CHECK_OK(gdn_ipc_send(sv[0], m, NULL, 0, &err), err);
	CHECK_INTEQ(gdn_ipc_read_line(sv[1], &got, &err), 1);
	CHECK(json_equal(got, m));
	json_decref(got);
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	CHECK_INTEQ(write(p[1], "not json\n", 9), 9);
	CHECK_INTEQ(gdn_ipc_read_line(p[0], &got, &err2), -EBADMSG);
	CHECK(err2 != NULL);
}

int main(void)
{
	static const struct tap_test tests[] = {
	    TEST(test_encode),
	    TEST(test_fds_roundtrip),
	    TEST(test_no_fds_and_eof),
	    TEST(test_unexpected_fds_closed),
	    TEST(test_bad_packets),
	    TEST(test_truncated_and_too_long),
	    TEST(test_large_message),
	    TEST(test_send_argument_checks),
	    TEST(test_pipe_send_and_lines),
	    TEST(test_lines_byte_by_byte),
	    TEST(test_lines_errors),
	    TEST(test_read_line_pipe_and_stream),
	    TEST(test_read_line_seqpacket_and_invalid),
	};
	return tap_run(tests, GDN_ARRAY_SIZE(tests));
}
