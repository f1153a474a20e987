#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <jansson.h>

#include "test/unit/tap.h"
#include "lib/buf.h"
#include "lib/run.h"
#include "lib/util.h"

static char *const *sh(const char *script)
{
	static const char *v[4];

	v[0] = "sh";
	v[1] = "-c";
	v[2] = script;
	v[3] = NULL;
	return (char *const *)v;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	CHECK(d != NULL);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* No child of ours is left, not even a zombie. */
static void check_no_children(void)
{
	CHECK(waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD);
}

static void test_stdin_and_separate_capture(void)
{
	_cleanup_run_result_ struct gdn_run_result res = {0};
	struct gdn_err *err = NULL;
	struct gdn_spawn_opts so = {.path = "/bin/sh", .argv = sh("cat; echo to-err >&2; exit 4")};
	struct gdn_run_opts o = {.spawn = &so,
				 .stdin_data = "fed\n",
				 .stdin_len = 4,
				 .capture_stdout = true,
				 .capture_stderr = true};
	int fds = count_fds();

	CHECK_OK(gdn_run(&o, &res, &err), err);
	CHECK_INTEQ(res.status, 4);
	CHECK_STREQ(res.out, "fed\n");
	CHECK_INTEQ(res.out_len, 4);
	CHECK_STREQ(res.err, "to-err\n");
	CHECK(!res.out_truncated && !res.err_truncated);
	CHECK_INTEQ(count_fds(), fds);
	check_no_children();
}

static void test_big_stdin_and_a_child_that_does_not_read(void)
{
	_cleanup_run_result_ struct gdn_run_result res = {0}, res2 = {0};
	_cleanup_free_ char *big = malloc(1 << 20);
	struct gdn_err *err = NULL;
	struct gdn_spawn_opts so = {.path = "/bin/sh", .argv = sh("wc -c")};
	struct gdn_run_opts o = {
	    .spawn = &so, .stdin_data = big, .stdin_len = 1 << 20, .capture_stdout = true};

	CHECK(big != NULL);
	memset(big, 'x', 1 << 20);
	CHECK_OK(gdn_run(&o, &res, &err), err);
	CHECK_INTEQ(res.status, 0);
	CHECK_INTEQ(strtol(res.out, NULL, 10), 1 << 20);
	/* it exits without reading: no SIGPIPE for us, and its status is the answer */
	so.argv = sh("exit 0");
	CHECK_OK(gdn_run(&o, &res2, &err), err);
	CHECK_INTEQ(res2.status, 0);
	CHECK_STREQ(res2.out, "");
	check_no_children();
}

static void test_capture_is_bounded(void)
{
	_cleanup_run_result_ struct gdn_run_result res = {0};
	struct gdn_err *err = NULL;
	struct gdn_spawn_opts so = {
	    .path = "/bin/sh",
	    .argv = sh("head -c 200000 /dev/zero | tr '\\0' a; head -c 300000 /dev/zero >&2")};
	struct gdn_run_opts o = {
	    .spawn = &so, .capture_stdout = true, .capture_stderr = true, .output_max = 1000};

	CHECK_OK(gdn_run(&o, &res, &err), err);
	CHECK_INTEQ(res.status, 0);
	CHECK_INTEQ(res.out_len, 1000);
	CHECK_INTEQ(strlen(res.out), 1000);
	CHECK(res.out[999] == 'a');
	CHECK_INTEQ(res.err_len, 1000);
	CHECK(res.out_truncated && res.err_truncated);
}

static void test_timeout_kills_and_reaps(void)
{
	_cleanup_run_result_ struct gdn_run_result res = {0};
	struct gdn_err *err = NULL;
	struct gdn_spawn_opts so = {.path = "/bin/sh",
				    .argv = sh("echo partial; echo e >&2; exec sleep 30")};
	struct gdn_run_opts o = {.spawn = &so,
				 .stdin_data = "",
				 .capture_stdout = true,
				 .capture_stderr = true,
				 .timeout_ns = 300 * 1000000ULL};
	int fds = count_fds();
	uint64_t t0 = gdn_now_mono_ns(), took;

	CHECK_INTEQ(gdn_run(&o, &res, &err), -ETIMEDOUT);
	took = gdn_now_mono_ns() - t0;
	CHECK(took >= 300 * 1000000ULL && took < 3000000000ULL);
	CHECK_INTEQ(err->errnum, ETIMEDOUT);
	CHECK_STREQ(gdn_err_str(err), "'/bin/sh' did not exit within 300 ms: killed");
	CHECK_INTEQ(res.status, 137);
	CHECK_STREQ(res.out, "partial\n");
	CHECK_STREQ(res.err, "e\n");
	CHECK_INTEQ(count_fds(), fds);
	check_no_children();
	gdn_err_free(err);
}

/* True while pid exists and is not a zombie (an orphan's zombie waits for init). */
static bool alive(pid_t pid)
{
	char path[64], buf[512];
	ssize_t n;
	int fd;
	const char *paren;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	paren = strrchr(buf, ')');
	return paren && paren[1] == ' ' && paren[2] != 'Z' && paren[2] != 'X';
}

static void test_timeout_kills_the_process_group(void)
{
	_cleanup_run_result_ struct gdn_run_result res = {0};
	struct gdn_err *err = NULL;
	struct gdn_spawn_opts so = {
	    .path = "/bin/sh", .argv = sh("sleep 30 & echo $!; exec sleep 30"), .setsid = true};
	struct gdn_run_opts o = {
	    .spawn = &so, .capture_stdout = true, .timeout_ns = 300 * 1000000ULL};
	const struct timespec tick = {0, 50 * 1000000};
	long forked;
	int i;

	CHECK_INTEQ(gdn_run(&o, &res, &err), -ETIMEDOUT);
	forked = strtol(res.out, NULL, 10);
	CHECK(forked > 1);
	for (i = 0; i < 100 && alive((pid_t)forked); i++)
		nanosleep(&tick, NULL);
	CHECK(!alive((pid_t)forked));
	check_no_children();
	gdn_err_free(err);
}

static void test_exec_failure(void)
{
	_cleanup_run_result_ struct gdn_run_result res = {0};
	struct gdn_err *err = NULL;
	const char *argv[] = {"nope", NULL};
	struct gdn_spawn_opts so = {.path = "/nonexistent/nope", .argv = (char *const *)argv};
	struct gdn_run_opts o = {.spawn = &so,
				 .stdin_data = "x",
				 .stdin_len = 1,
				 .capture_stdout = true,
				 .capture_stderr = true,
				 .timeout_ns = 1000000000ULL};
	int fds = count_fds();

	CHECK_INTEQ(gdn_run(&o, &res, &err), -ENOENT);
	CHECK(strstr(gdn_err_str(err), "exec '/nonexistent/nope'") != NULL);
	CHECK(res.out == NULL && res.err == NULL);
	CHECK_INTEQ(count_fds(), fds);
	check_no_children();
	gdn_err_free(err);
}

static void test_grandchild_holding_the_pipes_is_not_waited_for(void)
{
	_cleanup_run_result_ struct gdn_run_result res = {0};
	struct gdn_err *err = NULL;
	struct gdn_spawn_opts so = {.path = "/bin/sh", .argv = sh("sleep 30 & echo $!")};
	struct gdn_run_opts o = {
	    .spawn = &so, .capture_stdout = true, .timeout_ns = 10000000000ULL};
	uint64_t t0 = gdn_now_mono_ns();
	long pid;

	CHECK_OK(gdn_run(&o, &res, &err), err);
	CHECK(gdn_now_mono_ns() - t0 < 5000000000ULL);
	CHECK_INTEQ(res.status, 0);
	pid = strtol(res.out, NULL, 10);
	CHECK(pid > 1);
	(void)kill((pid_t)pid, SIGKILL);
}

static void test_child_wait_deadline_and_kill(void)
{
	struct gdn_child c = GDN_CHILD_INIT;
	struct gdn_err *err = NULL;
	const char *argv[] = {"sleep", "30", NULL};
	struct gdn_spawn_opts so = {.path = "sleep", .argv = (char *const *)argv};
	int status = -1;
	pid_t pid;

	CHECK_OK(gdn_child_spawn(&c, &so, &err), err);
	pid = c.pid;
	CHECK(pid > 0 && c.pidfd >= 0);
	CHECK_INTEQ(gdn_child_wait(&c, gdn_now_mono_ns() + 100000000ULL, &status, &err),
		    -ETIMEDOUT);
	CHECK(err == NULL);
	CHECK(c.pid == pid); /* still owned */
	gdn_child_kill(&c);
	CHECK(c.pid == 0 && c.pidfd == -1);
	CHECK(kill(pid, 0) < 0 && errno == ESRCH);
	/* a scope that ends early kills and reaps what it owns */
	{
		_cleanup_child_ struct gdn_child owned = GDN_CHILD_INIT;

		CHECK_OK(gdn_child_spawn(&owned, &so, &err), err);
		pid = owned.pid;
	}
	CHECK(kill(pid, 0) < 0 && errno == ESRCH);
	check_no_children();
	/* and one that exits in time gives its status */
	argv[1] = "0";
	CHECK_OK(gdn_child_spawn(&c, &so, &err), err);
	CHECK_OK(gdn_child_wait(&c, gdn_now_mono_ns() + 5000000000ULL, &status, &err), err);
	CHECK_INTEQ(status, 0);
	CHECK(c.pid == 0 && c.pidfd == -1);
}

/* --- re-logging --------------------------------------------------------------------------------
 */

/* Points our log at a memfd; returns it. */
static int log_to_memfd(void)
{
	int fd = memfd_create("log", MFD_CLOEXEC);

	CHECK(fd >= 0);
	gdn_log_init("test", GDN_LOG_DEBUG, fd);
	return fd;
}

/* The lines logged so far, as a JSON array. */
static json_t *logged(int fd)
{
	_cleanup_buf_ struct gdn_buf b = {0};
	char chunk[4096];
	off_t off = 0;
	json_t *lines = json_array();

	for (;;) {
		ssize_t n = pread(fd, chunk, sizeof(chunk), off);

		if (n <= 0)
			break;
		CHECK(gdn_buf_append(&b, chunk, (size_t)n) == 0);
		off += n;
	}
	for (char *p = b.data; p && *p;) {
		char *nl = strchr(p, '\n');
		json_t *line;

		CHECK(nl != NULL);
		line = json_loadb(p, (size_t)(nl - p), 0, NULL);
		CHECK(line != NULL);
		json_array_append_new(lines, line);
		p = nl + 1;
	}
	return lines;
}

static const char *str_at(json_t *line, const char *key)
{
	return json_string_value(json_object_get(line, key));
}

static const char *data_at(json_t *line, const char *key)
{
	return json_string_value(json_object_get(json_object_get(line, "data"), key));
}

static void relog(struct gdn_log *l, const char *line)
{
	gdn_run_relog_line(l, line, strlen(line));
}

static void test_relog_lager_and_plain_lines(void)
{
	int fd = log_to_memfd();
	struct gdn_log *l = gdn_log_session(NULL, "plugin", "handle", "h1", NULL);
	json_auto_t *lines = NULL;
	json_t *x;

	/* RFC3339, level by name; session and trace are dropped */
	relog(l, "{\"timestamp\":\"2026-12-01T10:00:00.123456700Z\",\"level\":\"info\","
		 "\"source\":\"grootfs\",\"message\":\"grootfs.create.done\",\"data\":{"
		 "\"session\":\"4\",\"trace\":\"t\",\"image\":\"busybox\"}}\n");
	/* epoch, level by number; text before the '{' is skipped */
	relog(l, "prefix {\"timestamp\":\"1764583200.5\",\"log_level\":0,"
		 "\"message\":\"net.up\",\"data\":{\"n\":3}}");
	/* error level with its error; fatal is re-logged as error */
	relog(l, "{\"timestamp\":\"1764583200\",\"log_level\":3,\"message\":\"x.died\","
		 "\"data\":{\"error\":\"boom\"}}");
	/* not lager: plain text, JSON without a timestamp, a bad level, a non-string session */
	relog(l, "plain text\n");
	relog(l, "{\"message\":\"m\"}");
	relog(l, "{\"timestamp\":\"1\",\"level\":\"loud\"}");
	relog(l, "{\"timestamp\":\"1\",\"data\":{\"session\":4}}");
	/* data's keys are a map's: exact ("Session" is just data), while the line's are Go's
	 * (case-insensitive); no level at all is log_level 0, debug */
	relog(l, "{\"Timestamp\":\"1.25\",\"data\":{\"Session\":4}}");
	/* empty lines are nothing */
	relog(l, "\n");
	relog(l, "");

	lines = logged(fd);
	CHECK_INTEQ(json_array_size(lines), 8);
	x = json_array_get(lines, 0);
	CHECK_STREQ(str_at(x, "level"), "info");
	CHECK_STREQ(str_at(x, "message"), "test.plugin.grootfs.create.done");
	CHECK_STREQ(data_at(x, "image"), "busybox");
	CHECK_STREQ(data_at(x, "handle"), "h1");
	CHECK_STREQ(data_at(x, "session"), "1"); /* ours, not the child's */
	CHECK(json_object_get(json_object_get(x, "data"), "trace") == NULL);
	CHECK_STREQ(data_at(x, "original_timestamp"), "2026-12-01T10:00:00.1234567Z");
	x = json_array_get(lines, 1);
	CHECK_STREQ(str_at(x, "level"), "debug");
	CHECK_STREQ(str_at(x, "message"), "test.plugin.net.up");
	CHECK_INTEQ(json_integer_value(json_object_get(json_object_get(x, "data"), "n")), 3);
	CHECK_STREQ(data_at(x, "original_timestamp"), "2025-12-01T10:00:00.5Z");
	x = json_array_get(lines, 2);
	CHECK_STREQ(str_at(x, "level"), "error");
	CHECK_STREQ(str_at(x, "message"), "test.plugin.x.died");
	CHECK_STREQ(data_at(x, "error"), "boom");
	CHECK_STREQ(data_at(x, "original_timestamp"), "2025-12-01T10:00:00Z");
	x = json_array_get(lines, 3);
	CHECK_STREQ(str_at(x, "level"), "error");
	CHECK_STREQ(str_at(x, "message"), "test.plugin.error");
	CHECK_STREQ(data_at(x, "output"), "plain text");
	CHECK_STREQ(data_at(json_array_get(lines, 4), "output"), "{\"message\":\"m\"}");
	CHECK_STREQ(data_at(json_array_get(lines, 5), "output"),
		    "{\"timestamp\":\"1\",\"level\":\"loud\"}");
	CHECK_STREQ(data_at(json_array_get(lines, 6), "output"),
		    "{\"timestamp\":\"1\",\"data\":{\"session\":4}}");
	x = json_array_get(lines, 7);
	CHECK_STREQ(str_at(x, "level"), "debug");
	CHECK_STREQ(str_at(x, "message"), "test.plugin.");
	CHECK_INTEQ(json_integer_value(json_object_get(json_object_get(x, "data"), "Session")), 4);
	CHECK_STREQ(data_at(x, "original_timestamp"), "1970-01-01T00:00:01.25Z");
	gdn_log_free(l);
	close(fd);
}

static void test_run_relogs_stderr_as_it_comes(void)
{
	_cleanup_run_result_ struct gdn_run_result res = {0};
	struct gdn_err *err = NULL;
	int fd = log_to_memfd();
	struct gdn_log *l = gdn_log_session(NULL, "image-plugin", NULL);
	struct gdn_spawn_opts so = {
	    .path = "/bin/sh",
	    .argv =
		sh("echo '{\"timestamp\":\"1764583200.25\",\"log_level\":1,\"source\":\"p\","
		   "\"message\":\"p.hello\",\"data\":{}}' >&2; echo out; printf 'no newline' >&2")};
	struct gdn_run_opts o = {
	    .spawn = &so, .capture_stdout = true, .capture_stderr = true, .relog = l};
	json_auto_t *lines = NULL;

	CHECK_OK(gdn_run(&o, &res, &err), err);
	CHECK_STREQ(res.out, "out\n");
	CHECK(strstr(res.err, "p.hello") != NULL); /* captured as well */
	lines = logged(fd);
	CHECK_INTEQ(json_array_size(lines), 2);
	CHECK_STREQ(str_at(json_array_get(lines, 0), "message"), "test.image-plugin.p.hello");
	CHECK_STREQ(str_at(json_array_get(lines, 0), "level"), "info");
	CHECK_STREQ(data_at(json_array_get(lines, 1), "output"), "no newline");
	gdn_log_free(l);
	close(fd);
}

int main(void)
{
	static const struct tap_test tests[] = {
	    TEST(test_stdin_and_separate_capture),
	    TEST(test_big_stdin_and_a_child_that_does_not_read),
	    TEST(test_capture_is_bounded),
	    TEST(test_timeout_kills_and_reaps),
	    TEST(test_timeout_kills_the_process_group),
	    TEST(test_exec_failure),
	    TEST(test_grandchild_holding_the_pipes_is_not_waited_for),
	    TEST(test_child_wait_deadline_and_kill),
	    TEST(test_relog_lager_and_plain_lines),
	    TEST(test_run_relogs_stderr_as_it_comes),
	};
	return tap_run(tests, GDN_ARRAY_SIZE(tests));
}
