/* link: cmd/guardian/worker.c */
/* Workers against a minimal gd_server built by hand: its loop (lib/loop) and nothing else. The
 * test drives the loop round by round. */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "test/unit/tap.h"
#include "lib/util.h"
#include "cmd/guardian/server.h"

static struct gd_config cfg;
static struct gd_server srv;

/* What the done() callbacks saw (in the parent). */
static struct {
	int calls;
	int frees; /* free_arg calls */
	struct gd_worker seen;
	bool had_err;
	struct gdn_err err; /* copy of the error (strings dup'd) */
	char *result;	    /* w->result, encoded */
	char *handle;	    /* w->handle */
	int taken_fd;	    /* a watch's result_fd that done() took */
} got = {.taken_fd = -1};

static void server_init(void)
{
	srv = (struct gd_server){.cfg = &cfg, .standby_fd = -1};
	CHECK(gdn_loop_init(&srv.loop, NULL) == 0);
	gdn_log_init("guardian", GDN_LOG_ERROR, 2);
	srv.log = gdn_log_root();
	memset(&got, 0, sizeof(got));
	got.taken_fd = -1;
}

/* Runs the loop until `calls` done() calls have happened (10 s at most). */
static void run_until(int calls)
{
	uint64_t end = gdn_now_mono_ns() + 10ull * 1000000000ull;

	while (got.calls < calls) {
		if (gdn_now_mono_ns() > end)
			tap_fail_(__FILE__, __LINE__, "%d done() calls after 10 s, wanted %d",
				  got.calls, calls);
		CHECK(gdn_loop_run_once(&srv.loop, 100, NULL) >= 0);
	}
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void on_done(struct gd_server *s, struct gd_worker *w, struct gdn_err *err)
{
	CHECK(s == &srv);
	got.calls++;
	got.seen = *w;
	free(got.handle);
	got.handle = dup_or_null(w->handle);
	got.had_err = err != NULL;
	free(got.err.msg);
	free(got.err.handle);
	memset(&got.err, 0, sizeof(got.err));
	if (err) {
		got.err = *err;
		got.err.msg = dup_or_null(err->msg);
		got.err.handle = dup_or_null(err->handle);
	}
	free(got.result);
	got.result = w->result ? json_dumps(w->result, JSON_COMPACT) : NULL;
}

static void free_arg(void *arg)
{
	(void)arg;
	got.frees++;
}

/* --- worker functions (they run in the forked child) ----------------------------------------- */

static int fn_ok(const struct gd_config *c, void *arg, struct gdn_log *log, struct gdn_err **err)
{
	(void)arg, (void)log, (void)err;
	return c == &cfg ? 0 : gdn_err_set(err, EINVAL, "wrong config");
}

static int fn_exists(const struct gd_config *c, void *arg, struct gdn_log *log,
		     struct gdn_err **err)
{
	(void)c, (void)log;
	return gdn_err_kind(err, GDN_ERR_GENERIC, EEXIST, "Handle '%s' already in use",
			    (const char *)arg);
}

static int fn_not_found(const struct gd_config *c, void *arg, struct gdn_log *log,
			struct gdn_err **err)
{
	(void)c, (void)arg, (void)log;
	return gdn_err_not_found(err, "gone-h");
}

static int fn_errno(const struct gd_config *c, void *arg, struct gdn_log *log, struct gdn_err **err)
{
	(void)c, (void)arg, (void)log;
	return gdn_err_set(err, ENOSPC, "write '%s'", "/depot/h/config.json");
}

static int fn_exit(const struct gd_config *c, void *arg, struct gdn_log *log, struct gdn_err **err)
{
	(void)c, (void)log, (void)err;
	_exit(*(int *)arg);
}

static int fn_killed(const struct gd_config *c, void *arg, struct gdn_log *log,
		     struct gdn_err **err)
{
	(void)c, (void)arg, (void)log, (void)err;
	(void)raise(SIGKILL);
	return 0;
}

/* Reports (as an error) anything of the loop's the child should not have. */
static int fn_env(const struct gd_config *c, void *arg, struct gdn_log *log, struct gdn_err **err)
{
	sigset_t mask;
	struct sigaction sa;
	int other_pipe = *(int *)arg;

	(void)c, (void)log;
	if (fcntl(srv.loop.epfd, F_GETFD) >= 0)
		return gdn_err_set(err, EBADF, "the epoll fd %d is open in the worker",
				   srv.loop.epfd);
	if (other_pipe >= 0 && fcntl(other_pipe, F_GETFD) >= 0)
		return gdn_err_set(err, EBADF, "another worker's pipe %d is open", other_pipe);
	if (sigprocmask(SIG_SETMASK, NULL, &mask) < 0 || sigismember(&mask, SIGTERM) ||
	    sigismember(&mask, SIGCHLD))
		return gdn_err_set(err, EPERM, "signals are blocked in the worker");
	if (sigaction(SIGPIPE, NULL, &sa) < 0 || sa.sa_handler != SIG_DFL)
		return gdn_err_set(err, EPERM, "SIGPIPE is not SIG_DFL in the worker");
	return 0;
}

/* Reads one byte from the fd in arg: blocks until another worker writes it. */
static int fn_wait_byte(const struct gd_config *c, void *arg, struct gdn_log *log,
			struct gdn_err **err)
{
	char b;

	(void)c, (void)log;
	if (read(((int *)arg)[0], &b, 1) != 1)
		return gdn_err_set(err, EIO, "no byte");
	return 0;
}

static int fn_write_byte(const struct gd_config *c, void *arg, struct gdn_log *log,
			 struct gdn_err **err)
{
	(void)c, (void)log;
	if (write(((int *)arg)[1], "x", 1) != 1)
		return gdn_err_set(err, EIO, "write");
	return 0;
}

static void start(const char *handle, gd_worker_fn fn, void *arg)
{
	_cleanup_err_ struct gdn_err *err = NULL;

	CHECK_OK(gd_worker_start(&srv, NULL, handle, fn, arg, free_arg, on_done, &err), err);
}

/* --- tests --------------------------------------------------------------------------------- */

static void test_success(void)
{
	int arg = 0;
	struct gd_conn conn = {.fd = -1};
	_cleanup_err_ struct gdn_err *err = NULL;

	server_init();
	CHECK_OK(gd_worker_start(&srv, &conn, "ok-h", fn_ok, &arg, free_arg, on_done, &err), err);
	CHECK(srv.workers != NULL);
	CHECK(srv.workers->pid > 0);
	CHECK_INTEQ(got.calls, 0);
	run_until(1);
	CHECK(!got.had_err);
	CHECK(got.seen.data == &arg);
	CHECK(got.seen.conn == &conn);
	CHECK(got.seen.exited);
	CHECK_INTEQ(got.seen.status, 0);
	CHECK_STREQ(got.handle, "ok-h");
	CHECK_STREQ(got.result, "{\"ok\":true}"); /* the envelope (garden-ipc(5)) */
	/* the worker is gone from the server, its arg released once, after done() */
	CHECK(srv.workers == NULL);
	CHECK_INTEQ(got.frees, 1);
	/* and reaped */
	CHECK(waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD);
}

static void test_error_kept_whole(void)
{
	server_init();
	start("dup-h", fn_exists, (void *)"dup-h");
	run_until(1);
	CHECK(got.had_err);
	CHECK(got.err.kind == GDN_ERR_GENERIC);
	CHECK_INTEQ(got.err.errnum, EEXIST);
	CHECK_STREQ(got.err.msg, "Handle 'dup-h' already in use");
	CHECK_INTEQ(got.frees, 1);
	CHECK(srv.workers == NULL);
}

static void test_error_not_found(void)
{
	server_init();
	start("gone-h", fn_not_found, NULL);
	run_until(1);
	CHECK(got.had_err);
	CHECK(got.err.kind == GDN_ERR_CONTAINER_NOT_FOUND);
	CHECK_STREQ(got.err.handle, "gone-h");
	CHECK_STREQ(got.err.msg, "unknown handle: gone-h");
}

static void test_error_with_errno(void)
{
	server_init();
	start("h", fn_errno, NULL);
	run_until(1);
	CHECK(got.had_err);
	CHECK_INTEQ(got.err.errnum, ENOSPC);
	/* the message crosses the pipe once, with its strerror, not twice */
	CHECK_STREQ(got.err.msg, "write '/depot/h/config.json': No space left on device");
}

static void test_exit_without_result(void)
{
	int code = 3;

	server_init();
	start("h", fn_exit, &code);
	run_until(1);
	CHECK(got.had_err);
	CHECK_INTEQ(got.seen.status, 3);
	CHECK_STREQ(got.err.msg, "worker exited with status 3 without a result");
	CHECK(got.result == NULL);
	CHECK_INTEQ(got.frees, 1);
	CHECK(srv.workers == NULL);
	/* exit 0 without a result is no success either */
	code = 0;
	start("h", fn_exit, &code);
	run_until(2);
	CHECK(got.had_err);
	CHECK_STREQ(got.err.msg, "worker exited with status 0 without a result");
}

static void test_killed_without_result(void)
{
	server_init();
	start("h", fn_killed, NULL);
	run_until(1);
	CHECK(got.had_err);
	CHECK_INTEQ(got.seen.status, 128 + SIGKILL);
	CHECK_STREQ(got.err.msg, "worker exited with status 137 without a result");
}

static void test_child_environment(void)
{
	sigset_t mask;
	int none = -1, first_pipe, p[2];

	server_init();
	/* the loop blocks the signals its signalfd takes, and ignores SIGPIPE */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGCHLD);
	CHECK(sigprocmask(SIG_BLOCK, &mask, NULL) == 0);
	(void)signal(SIGPIPE, SIG_IGN);
	start("env-1", fn_env, &none);
	run_until(1);
	if (got.had_err)
		tap_fail_(__FILE__, __LINE__, "%s", got.err.msg);
	/* a second worker started while the first one's pipe is open must not hold it */
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	start("sleeper", fn_wait_byte, p);
	first_pipe = srv.workers->result_fd;
	start("env-2", fn_env, &first_pipe);
	run_until(2);
	if (got.had_err)
		tap_fail_(__FILE__, __LINE__, "%s", got.err.msg);
	CHECK_STREQ(got.handle, "env-2");
	/* the sleeper was still running meanwhile; release it */
	CHECK(srv.workers != NULL && srv.workers->result_fd == first_pipe);
	CHECK(write(p[1], "x", 1) == 1);
	run_until(3);
	CHECK(!got.had_err);
	CHECK_STREQ(got.handle, "sleeper");
	CHECK(srv.workers == NULL);
}

static void test_workers_run_in_parallel(void)
{
	int p[2];

	server_init();
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	/* the first worker can only finish once the second has run */
	start("a", fn_wait_byte, p);
	start("b", fn_write_byte, p);
	close(p[0]);
	close(p[1]);
	run_until(2);
	CHECK(!got.had_err);
	CHECK(srv.workers == NULL);
	CHECK_INTEQ(got.frees, 2);
}

/* --- gd_worker_watch ------------------------------------------------------------------------- */

static void on_watch_take(struct gd_server *s, struct gd_worker *w, struct gdn_err *err)
{
	on_done(s, w, err);
	got.taken_fd = w->result_fd;
	w->result_fd = -1;
}

static void test_watch_line(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	int sv[2], arg = 0;
	char buf[8];

	server_init();
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	CHECK_OK(gd_worker_watch(&srv, NULL, "w-h", sv[0], 0, &arg, free_arg, on_watch_take, &err),
		 err);
	/* half a line: nothing yet */
	CHECK(write(sv[1], "{\"pid\":", 7) == 7);
	for (int i = 0; i < 3; i++)
		CHECK(gdn_loop_run_once(&srv.loop, 50, NULL) >= 0);
	CHECK_INTEQ(got.calls, 0);
	/* the rest: done() at once, without EOF (the writer keeps its end open) */
	CHECK(write(sv[1], "42}\n", 4) == 4);
	run_until(1);
	CHECK(!got.had_err);
	CHECK_STREQ(got.result, "{\"pid\":42}");
	CHECK_STREQ(got.handle, "w-h");
	CHECK(got.seen.data == &arg);
	CHECK_INTEQ(got.frees, 1);
	CHECK(srv.workers == NULL);
	/* done() took the fd: it is still open and talks to the other end */
	CHECK_INTEQ(got.taken_fd, sv[0]);
	CHECK(write(sv[1], "ok", 2) == 2);
	CHECK(read(got.taken_fd, buf, sizeof(buf)) == 2);
	close(got.taken_fd);
	close(sv[1]);
}

static void test_watch_eof(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	int sv[2];

	server_init();
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	CHECK_OK(gd_worker_watch(&srv, NULL, "w-h", sv[0], 0, NULL, free_arg, on_done, &err), err);
	/* the other process dies without a line: done() with no result, and no error */
	close(sv[1]);
	run_until(1);
	CHECK(!got.had_err);
	CHECK(got.result == NULL);
	CHECK(srv.workers == NULL);
	CHECK_INTEQ(got.frees, 1);
	/* done() did not take the fd: it was closed */
	CHECK(fcntl(sv[0], F_GETFD) < 0 && errno == EBADF);
}

static void test_watch_unterminated_line_at_eof(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	int sv[2];

	server_init();
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	CHECK_OK(gd_worker_watch(&srv, NULL, "w-h", sv[0], 0, NULL, NULL, on_done, &err), err);
	CHECK(write(sv[1], "{\"error\":{}}", 12) == 12);
	close(sv[1]);
	run_until(1);
	/* an unterminated last line before EOF still counts; a watched line is not a worker's
	 * result, so its "error" member is done()'s to read: err stays NULL */
	CHECK(!got.had_err);
	CHECK_STREQ(got.result, "{\"error\":{}}");
	CHECK(srv.workers == NULL);
}

/* No line within the timeout: done() hears so (and only once), the fd is closed. */
static void test_watch_timeout(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	uint64_t t0;
	char c;
	int sv[2];

	server_init();
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	t0 = gdn_now_mono_ns();
	CHECK_OK(
	    gd_worker_watch(&srv, NULL, "w-h", sv[0], 50 * 1000000ULL, NULL, NULL, on_done, &err),
	    err);
	run_until(1);
	CHECK(gdn_now_mono_ns() - t0 >= 50 * 1000000ULL);
	CHECK(got.had_err);
	CHECK_INTEQ(got.err.errnum, ETIMEDOUT);
	CHECK_STREQ(got.err.msg, "no answer within 50 ms");
	CHECK(got.result == NULL);
	CHECK(srv.workers == NULL);
	/* a line now reaches nobody: our end is closed */
	CHECK(gdn_loop_run_once(&srv.loop, 0, NULL) >= 0);
	CHECK(read(sv[1], &c, 1) == 0);
	CHECK_INTEQ(got.calls, 1);
	close(sv[1]);
}

static void test_watch_bad_fd(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	int arg = 0;

	server_init();
	CHECK(gd_worker_watch(&srv, NULL, "w-h", -1, 0, &arg, free_arg, on_done, &err) < 0);
	CHECK(err != NULL);
	/* no done(), no worker left, and the arg released (at the end of the loop's round) */
	CHECK_INTEQ(got.calls, 0);
	CHECK(srv.workers == NULL);
	CHECK(gdn_loop_run_once(&srv.loop, 0, NULL) >= 0);
	CHECK_INTEQ(got.frees, 1);
}

int main(void)
{
	static const struct tap_test tests[] = {
	    TEST(test_success),
	    TEST(test_error_kept_whole),
	    TEST(test_error_not_found),
	    TEST(test_error_with_errno),
	    TEST(test_exit_without_result),
	    TEST(test_killed_without_result),
	    TEST(test_child_environment),
	    TEST(test_workers_run_in_parallel),
	    TEST(test_watch_line),
	    TEST(test_watch_eof),
	    TEST(test_watch_unterminated_line_at_eof),
	    TEST(test_watch_timeout),
	    TEST(test_watch_bad_fd),
	};
	return tap_run(tests, GDN_ARRAY_SIZE(tests));
}
