#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "lib/ipc.h"
#include "lib/fs.h"
#include "lib/util.h"
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

/* --- sockets ----------------------------------------------------------------------------- */

static char *tmpdir(void)
{
	char *d = strdup("/tmp/test_ipc-XXXXXX");

	CHECK(d && mkdtemp(d));
	return d;
}

static void rm_dir(const char *d)
{
	char cmd_path[512];

	/* the tests leave at most a socket or two and one nested dir */
	(void)snprintf(cmd_path, sizeof(cmd_path), "%s/s", d);
	(void)unlink(cmd_path);
	(void)rmdir(d);
}

/* the socket has its final mode the moment listen returns, whatever the umask */
static void test_listen_mode_and_umask(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	_cleanup_free_ char *d = tmpdir();
	_cleanup_free_ char *path = NULL;
	struct stat st;
	mode_t old = umask(0);
	int fd;

	CHECK(asprintf(&path, "%s/s", d) > 0);
	fd = gdn_ipc_listen(path, SOCK_STREAM, 0600, 0, &err);
	CHECK_OK(fd, err);
	CHECK(lstat(path, &st) == 0);
	CHECK(S_ISSOCK(st.st_mode));
	CHECK_INTEQ(st.st_mode & 07777, 0600);
	CHECK_INTEQ(umask(old), 0); /* our umask came back */
	CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	CHECK(!(fcntl(fd, F_GETFL) & O_NONBLOCK));
	close(fd);
	fd = gdn_ipc_listen(path, SOCK_SEQPACKET, 0660, GDN_IPC_NONBLOCK, &err);
	CHECK_OK(fd, err);
	CHECK(lstat(path, &st) == 0);
	CHECK_INTEQ(st.st_mode & 07777, 0660);
	CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK);
	close(fd);
	rm_dir(d);
}

/* a live server is not replaced; a stale socket is */
static void test_listen_refuses_live_replaces_stale(void)
{
	_cleanup_err_ struct gdn_err *err = NULL, *err2 = NULL;
	_cleanup_free_ char *d = tmpdir();
	_cleanup_free_ char *path = NULL, *want = NULL;
	int fd, fd2;

	CHECK(asprintf(&path, "%s/s", d) > 0);
	fd = gdn_ipc_listen(path, SOCK_STREAM, 0600, 0, &err);
	CHECK_OK(fd, err);
	CHECK_INTEQ(gdn_ipc_listen(path, SOCK_STREAM, 0600, 0, &err2), -EADDRINUSE);
	CHECK(asprintf(&want, "another server is listening on '%s': %s", path,
		       strerror(EADDRINUSE)) > 0);
	CHECK_STREQ(gdn_err_str(err2), want);
	close(fd); /* the file stays: a stale socket */
	fd2 = gdn_ipc_listen(path, SOCK_STREAM, 0600, 0, &err);
	CHECK_OK(fd2, err);
	close(fd2);
	rm_dir(d);
}

/* a path longer than sun_path is bound and reached through /proc/self/fd/<dirfd>/ */
static void test_long_path(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	_cleanup_free_ char *d = tmpdir();
	_cleanup_free_ char *sub = NULL, *path = NULL;
	json_auto_t *m = json_pack("{s:s}", "op", "state");
	json_auto_t *got = NULL;
	int lfd, cfd, afd;

	CHECK(asprintf(&sub, "%s/%0120d", d, 7) > 0);
	CHECK(mkdir(sub, 0700) == 0);
	CHECK(asprintf(&path, "%s/dadoo.sock", sub) > 0);
	CHECK(strlen(path) > 108);
	lfd = gdn_ipc_listen(path, SOCK_SEQPACKET, 0600, 0, &err);
	CHECK_OK(lfd, err);
	cfd = gdn_ipc_connect(path, SOCK_SEQPACKET, 0, &err);
	CHECK_OK(cfd, err);
	afd = gdn_ipc_accept(lfd, 0, &err);
	CHECK_OK(afd, err);
	CHECK_OK(gdn_ipc_send(cfd, m, NULL, 0, &err), err);
	CHECK_INTEQ(gdn_ipc_recv(afd, &got, NULL, NULL, &err), 1);
	CHECK_STREQ(json_string_value(json_object_get(got, "op")), "state");
	close(afd);
	close(cfd);
	close(lfd);
	(void)unlink(path);
	(void)rmdir(sub);
	rm_dir(d);
}

static void test_connect_nobody_and_nonblock(void)
{
	_cleanup_err_ struct gdn_err *e1 = NULL, *e2 = NULL, *err = NULL;
	_cleanup_free_ char *d = tmpdir();
	_cleanup_free_ char *path = NULL;
	int lfd, cfd;

	CHECK(asprintf(&path, "%s/s", d) > 0);
	CHECK_INTEQ(gdn_ipc_connect(path, SOCK_SEQPACKET, 0, &e1), -ENOENT);
	lfd = gdn_ipc_listen(path, SOCK_SEQPACKET, 0600, GDN_IPC_NONBLOCK, &err);
	CHECK_OK(lfd, err);
	CHECK_INTEQ(gdn_ipc_accept(lfd, 0, &err), -EAGAIN); /* nothing pending, no error */
	CHECK(err == NULL);
	cfd = gdn_ipc_connect(path, SOCK_SEQPACKET, GDN_IPC_NONBLOCK, &err);
	CHECK_OK(cfd, err);
	CHECK(fcntl(cfd, F_GETFL) & O_NONBLOCK);
	close(cfd);
	close(lfd);
	CHECK_INTEQ(gdn_ipc_connect(path, SOCK_SEQPACKET, 0, &e2), -ECONNREFUSED);
	rm_dir(d);
}

/* SO_PEERCRED: a peer that is neither root nor our euid is refused */
static void test_accept_refuses_other_uid(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	_cleanup_free_ char *d = tmpdir();
	_cleanup_free_ char *path = NULL;
	int lfd, status = 0, afd;
	pid_t pid;

	if (geteuid() != 0)
		SKIP("needs root to drop to another uid");
	CHECK(asprintf(&path, "%s/s", d) > 0);
	CHECK(chmod(d, 0755) == 0);
	lfd = gdn_ipc_listen(path, SOCK_SEQPACKET, 0666, 0, &err);
	CHECK_OK(lfd, err);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		char c;
		int fd;

		if (setgid(65534) < 0 || setuid(65534) < 0)
			_exit(2);
		fd = gdn_ipc_connect(path, SOCK_SEQPACKET, 0, NULL);
		if (fd < 0)
			_exit(3);
		/* refused: the server closes the connection */
		_exit(read(fd, &c, 1) == 0 ? 0 : 4);
	}
	afd = gdn_ipc_accept(lfd, 0, &err);
	CHECK_INTEQ(afd, -EACCES);
	CHECK(err != NULL);
	CHECK(strstr(gdn_err_str(err), "uid 65534") != NULL);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status));
	CHECK_INTEQ(WEXITSTATUS(status), 0);
	close(lfd);
	rm_dir(d);
}

static void test_accept_allows_root_and_us(void)
{
	int sv[2];

	seqpacket(sv);
	CHECK(gdn_ipc_peer_allowed(sv[0]));
	close(sv[0]);
	close(sv[1]);
}

static void send_with_payload(int sock, const char *payload, size_t len, const int *fds,
			      size_t nfds)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int) * 8)];
	} cbuf;
	struct iovec iov = {.iov_base = (void *)payload, .iov_len = len};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = cbuf.b,
			    .msg_controllen = CMSG_SPACE(sizeof(int) * nfds)};
	struct cmsghdr *c;

	memset(&cbuf, 0, sizeof(cbuf));
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
	memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	CHECK_INTEQ(sendmsg(sock, &mh, 0), (ssize_t)len);
}

/* the console-socket case: the runtime sends the pty master on a STREAM socket with its name */
static void test_recv_fds_stream_with_payload(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	char buf[64] = {0};
	int sv[2], p[2], fds[4];
	size_t n = 0;
	char c = 0;

	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	send_with_payload(sv[0], "/dev/pts/3", 10, &p[1], 1);
	close(p[1]);
	CHECK_INTEQ(gdn_ipc_recv_fds(sv[1], buf, sizeof(buf), fds, 4, &n, &err), 10);
	CHECK_STREQ(buf, "/dev/pts/3");
	CHECK_INTEQ(n, 1);
	CHECK(fcntl(fds[0], F_GETFD) & FD_CLOEXEC);
	CHECK_INTEQ(write(fds[0], "z", 1), 1);
	close(fds[0]);
	CHECK_INTEQ(read(p[0], &c, 1), 1);
	CHECK(c == 'z');
	CHECK_INTEQ(read(p[0], &c, 1), 0);
	/* too many fds: all closed, refused */
	{
		_cleanup_err_ struct gdn_err *e2 = NULL;
		int q[2], many[3];

		CHECK(pipe2(q, O_CLOEXEC) == 0);
		many[0] = many[1] = many[2] = q[1];
		send_with_payload(sv[0], "x", 1, many, 3);
		close(q[1]);
		CHECK_INTEQ(gdn_ipc_recv_fds(sv[1], buf, sizeof(buf), fds, 2, &n, &e2), -EBADMSG);
		CHECK_INTEQ(n, 0);
		CHECK_INTEQ(read(q[0], &c, 1), 0);
		close(q[0]);
	}
	close(p[0]);
	close(sv[0]);
	close(sv[1]);
}

/* --- the envelope and calls ------------------------------------------------------------- */

static void test_envelope_builders(void)
{
	_cleanup_err_ struct gdn_err *e = NULL;
	_cleanup_free_ char *a = NULL, *b = NULL, *c = NULL, *d = NULL;
	json_auto_t *req = gdn_ipc_request_new("state", 1);
	json_auto_t *ok = gdn_ipc_ok_new(1);
	json_auto_t *ok0 = gdn_ipc_ok_new(-1);
	json_auto_t *er = NULL;

	gdn_err_process_not_found(&e, "p");
	er = gdn_ipc_error_new(e, 1);
	a = gdn_json_line(req, NULL);
	b = gdn_json_line(ok, NULL);
	c = gdn_json_line(ok0, NULL);
	d = gdn_json_line(er, NULL);
	CHECK_STREQ(a, "{\"op\":\"state\",\"v\":1}\n");
	CHECK_STREQ(b, "{\"ok\":true,\"v\":1}\n");
	CHECK_STREQ(c, "{\"ok\":true}\n");
	CHECK_STREQ(d, "{\"error\":{\"type\":\"ProcessNotFoundError\",\"message\":\"unknown "
		       "process: p\",\"process_id\":\"p\",\"errno\":2},\"v\":1}\n");
}

static json_t *parse(const char *text)
{
	json_t *j = json_loads(text, 0, NULL);

	CHECK(j != NULL);
	return j;
}

static void test_envelope_parsers(void)
{
	const char *op = NULL;
	int v = -1;

	{
		_cleanup_err_ struct gdn_err *e = NULL;
		json_auto_t *m = parse("{\"op\":\"attach\",\"v\":3}");

		CHECK_OK(gdn_ipc_request_parse(m, &op, &v, &e), e);
		CHECK_STREQ(op, "attach");
		CHECK_INTEQ(v, 3);
	}
	{
		_cleanup_err_ struct gdn_err *e = NULL;
		json_auto_t *m = parse("{\"op\":\"attach\"}"); /* version 0 */

		CHECK_OK(gdn_ipc_request_parse(m, &op, &v, &e), e);
		CHECK_INTEQ(v, 0);
	}
	{
		_cleanup_err_ struct gdn_err *e1 = NULL, *e2 = NULL, *e3 = NULL;
		json_auto_t *m1 = parse("{\"v\":1}");
		json_auto_t *m2 = parse("{\"op\":\"x\",\"v\":\"1\"}");
		json_auto_t *m3 = parse("{\"op\":\"x\",\"v\":-1}");

		CHECK_INTEQ(gdn_ipc_request_parse(m1, &op, &v, &e1), -EBADMSG);
		CHECK_INTEQ(gdn_ipc_request_parse(m2, &op, &v, &e2), -EBADMSG);
		CHECK_INTEQ(gdn_ipc_request_parse(m3, &op, &v, &e3), -EBADMSG);
	}
	{
		_cleanup_err_ struct gdn_err *e = NULL, *e0 = NULL, *eb = NULL, *en = NULL;
		json_auto_t *ok = parse("{\"ok\":true,\"v\":2,\"pid\":3}");
		json_auto_t *er = parse("{\"error\":{\"type\":\"ServiceUnavailableError\","
					"\"message\":\"busy\",\"status\":503},\"v\":1}");
		json_auto_t *er0 = parse("{\"error\":\"plain text\"}");
		json_auto_t *neither = parse("{\"pid\":3}");

		CHECK_INTEQ(gdn_ipc_reply_parse(ok, &v, &e), 0);
		CHECK_INTEQ(v, 2);
		CHECK(gdn_ipc_reply_parse(er, &v, &eb) < 0);
		CHECK_INTEQ(eb->kind, GDN_ERR_SERVICE_UNAVAILABLE);
		CHECK_INTEQ(eb->http_status, 503);
		CHECK_STREQ(eb->msg, "busy");
		CHECK(gdn_ipc_reply_parse(er0, &v, &e0) < 0);
		CHECK_INTEQ(v, 0);
		CHECK_STREQ(e0->msg, "plain text");
		CHECK_INTEQ(gdn_ipc_reply_parse(neither, &v, &en), -EPROTO);
	}
}

/* a peer that answers: ok, then an error */
static void test_call_and_reply(void)
{
	_cleanup_err_ struct gdn_err *err = NULL, *e2 = NULL;
	json_auto_t *req = gdn_ipc_request_new("state", 1);
	json_auto_t *got = NULL, *res = json_pack("{s:i}", "pid", 42);
	int sv[2], status = 0;
	pid_t pid;

	seqpacket(sv);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		_cleanup_err_ struct gdn_err *ce = NULL, *ne = NULL;
		json_t *m = NULL;

		close(sv[0]);
		if (gdn_ipc_recv(sv[1], &m, NULL, NULL, &ce) != 1)
			_exit(2);
		json_decref(m);
		if (gdn_ipc_reply(sv[1], 1, res, NULL, &ce) < 0)
			_exit(3);
		if (gdn_ipc_recv(sv[1], &m, NULL, NULL, &ce) != 1)
			_exit(4);
		json_decref(m);
		gdn_err_not_found(&ne, "gone");
		_exit(gdn_ipc_reply(sv[1], 1, NULL, ne, &ce) < 0 ? 5 : 0);
	}
	close(sv[1]);
	CHECK_OK(gdn_ipc_call(sv[0], req, NULL, 0, 2000, &got, &err), err);
	CHECK_INTEQ(json_integer_value(json_object_get(got, "pid")), 42);
	CHECK_INTEQ(json_integer_value(json_object_get(got, "v")), 1);
	CHECK_INTEQ(gdn_ipc_call(sv[0], req, NULL, 0, 2000, NULL, &e2), -ENOENT);
	CHECK_INTEQ(e2->kind, GDN_ERR_CONTAINER_NOT_FOUND);
	CHECK_STREQ(e2->handle, "gone");
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK_INTEQ(WEXITSTATUS(status), 0);
	close(sv[0]);
}

/* a peer that never answers costs the caller its timeout, not more; one that hangs up, less */
static void test_call_timeout_and_hangup(void)
{
	_cleanup_err_ struct gdn_err *err = NULL, *e2 = NULL;
	json_auto_t *req = gdn_ipc_request_new("state", 1);
	uint64_t t0, ms;
	int sv[2];

	seqpacket(sv);
	t0 = gdn_now_mono_ns();
	CHECK_INTEQ(gdn_ipc_call(sv[0], req, NULL, 0, 150, NULL, &err), -ETIMEDOUT);
	ms = (gdn_now_mono_ns() - t0) / 1000000;
	CHECK(ms >= 140 && ms < 1000);
	CHECK_STREQ(gdn_err_str(err), "no reply within 150 ms");
	close(sv[1]);
	{
		int r = gdn_ipc_call(sv[0], req, NULL, 0, 150, NULL, &e2);

		CHECK(r == -EPIPE || r == -ECONNRESET); /* the send fails at once */
	}
	close(sv[0]);
	seqpacket(sv);
	{
		_cleanup_err_ struct gdn_err *e3 = NULL;
		json_t *m = NULL;

		CHECK_OK(gdn_ipc_send(sv[0], req, NULL, 0, &e3), e3);
		CHECK_INTEQ(gdn_ipc_recv(sv[1], &m, NULL, NULL, &e3), 1);
		json_decref(m);
	}
	{
		_cleanup_err_ struct gdn_err *e4 = NULL;
		pid_t pid = fork();

		CHECK(pid >= 0);
		if (pid == 0) {
			json_t *m = NULL;

			close(sv[0]);
			(void)gdn_ipc_recv(sv[1], &m, NULL, NULL, NULL);
			_exit(0); /* hangs up without a reply */
		}
		close(sv[1]);
		CHECK_INTEQ(gdn_ipc_call(sv[0], req, NULL, 0, 2000, NULL, &e4), -ECONNRESET);
		CHECK(waitpid(pid, NULL, 0) == pid);
	}
	close(sv[0]);
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
	    TEST(test_listen_mode_and_umask),
	    TEST(test_listen_refuses_live_replaces_stale),
	    TEST(test_long_path),
	    TEST(test_connect_nobody_and_nonblock),
	    TEST(test_accept_refuses_other_uid),
	    TEST(test_accept_allows_root_and_us),
	    TEST(test_recv_fds_stream_with_payload),
	    TEST(test_envelope_builders),
	    TEST(test_envelope_parsers),
	    TEST(test_call_and_reply),
	    TEST(test_call_timeout_and_hangup),
	};
	return tap_run(tests, GDN_ARRAY_SIZE(tests));
}
