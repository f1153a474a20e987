/* link: cmd/guardian/runtime.c */
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>

#include "test/unit/tap.h"
#include "lib/fs.h"
#include "lib/runtime.h"
#include "lib/util.h"
#include "cmd/guardian/runtime.h"

/* A fake runtime: records its argv, and behaves per subcommand and handle. */
static const char fake_runtime[] =
    "#!/bin/sh\n"
    "dir=$(dirname \"$0\")\n"
    "printf '%s\\n' \"$@\" > \"$dir/args\"\n"
    "log=\n"
    "while [ $# -gt 0 ]; do\n"
    "  case \"$1\" in\n"
    "  --log) log=$2; shift 2 ;;\n"
    "  --root|--log-format) shift 2 ;;\n"
    "  --*) shift ;;\n"
    "  *) break ;;\n"
    "  esac\n"
    "done\n"
    "cmd=$1; shift\n"
    "for h; do :; done\n"
    "case \"$cmd:$h\" in\n"
    "run:ok) exit 0 ;;\n"
    "run:hang|state:hang|delete:hang) echo $$ > \"$dir/hung.pid\"; exec sleep 30 ;;\n"
    "run:*)\n"
    "  echo '{\"level\":\"info\",\"msg\":\"starting\",\"time\":\"t\"}' >> \"$log\"\n"
    "  echo '{\"level\":\"fatal\",\"msg\":\"nsexec: cannot open /x\",\"time\":\"t\"}' >> \"$log\"\n"
    "  echo '{\"level\":\"error\",\"msg\":\"first error\",\"time\":\"t\"}' >> \"$log\"\n"
    "  echo '{\"msg\": \"it broke\", \"level\": \"error\", \"time\": \"t\"}' >> \"$log\"\n"
    "  exit 3 ;;\n"
    "state:alive) echo 'warning on stderr' >&2; echo '{\"ociVersion\":\"1.0.2\",\"id\":\"alive\","
    "\"pid\":4242,\"status\":\"running\"}' ;;\n"
    "state:broken) echo 'permission denied' >&2; exit 1 ;;\n"
    "state:*) echo \"container does not exist\" >&2; exit 1 ;;\n"
    "delete:gone) echo \"crun: container \\`gone\\` not found\" >&2; exit 1 ;;\n"
    "delete:broken) echo 'cannot kill: boom' >&2; exit 1 ;;\n"
    "delete:*) exit 0 ;;\n"
    "esac\n";

static struct gd_config fake_cfg(char *path, size_t n)
{
	struct gdn_err *err = NULL;
	snprintf(path, n, "%s/fake-rt", tap_tmp);
	CHECK_OK(gdn_fs_write_atomic(path, fake_runtime, strlen(fake_runtime), 0755, &err), err);
	struct gd_config cfg = {.runtime = path};
	return cfg;
}

static char *read_args(void)
{
	char path[128];
	char *data = NULL;
	size_t len = 0;
	struct gdn_err *err = NULL;
	snprintf(path, sizeof(path), "%s/args", tap_tmp);
	CHECK_OK(gdn_fs_read_file(path, 1 << 16, &data, &len, &err), err);
	return data;
}

static void test_run_passes_gardens_arguments(void)
{
	char rt[128];
	struct gd_config cfg = fake_cfg(rt, sizeof(rt));
	const char *extra[] = {"--systemd-cgroup", NULL};
	cfg.runtime_root = "/run/rt-root";
	cfg.runtime_extra_args = extra;
	struct gdn_err *err = NULL;

	CHECK_OK(gd_runtime_run(&cfg, "ok", tap_tmp, NULL, &err), err);
	_cleanup_free_ char *args = read_args();
	char want[1024];
	snprintf(want, sizeof(want),
		 "--root\n/run/rt-root\n--log\ncreate.log\n--log-format\njson\n"
		 "--systemd-cgroup\nrun\n--detach\n--no-new-keyring\n--bundle\n%s\n"
		 "--pid-file\n%s/pidfile\nok\n",
		 tap_tmp, tap_tmp);
	CHECK_STREQ(args, want);
}

static void test_run_failure_message_from_stderr(void)
{
	static const char script[] = "#!/bin/sh\necho 'chdir `/x` failed: nope' >&2\nexit 1\n";
	char rt[128];
	struct gdn_err *err = NULL;
	snprintf(rt, sizeof(rt), "%s/early-fail", tap_tmp);
	CHECK_OK(gdn_fs_write_atomic(rt, script, strlen(script), 0755, &err), err);
	struct gd_config cfg = {.runtime = rt};

	CHECK(gd_runtime_run(&cfg, "h", tap_tmp, NULL, &err) < 0);
	CHECK_STREQ(gdn_err_str(err), "early-fail run: exit status 1: chdir `/x` failed: nope");
	gdn_err_free(err);
}

static void test_run_failure_reports_status_and_log(void)
{
	char rt[128];
	struct gd_config cfg = fake_cfg(rt, sizeof(rt));
	struct gdn_err *err = NULL;

	int r = gd_runtime_run(&cfg, "bad", tap_tmp, NULL, &err);
	CHECK(r < 0);
	CHECK_STREQ(gdn_err_str(err),
		    "fake-rt run: exit status 3: it broke (nsexec: cannot open /x)");
	gdn_err_free(err);
}

static void test_state(void)
{
	char rt[128];
	struct gd_config cfg = fake_cfg(rt, sizeof(rt));
	struct gdn_err *err = NULL;
	pid_t pid = 0;
	char *status = NULL;

	CHECK_OK(gd_runtime_state(&cfg, "alive", &pid, &status, NULL, &err), err);
	CHECK_INTEQ(pid, 4242);
	CHECK_STREQ(status, "running");
	free(status);
	_cleanup_free_ char *args = read_args();
	CHECK_STREQ(args, "state\nalive\n");

	CHECK_INTEQ(gd_runtime_state(&cfg, "nope", &pid, NULL, NULL, &err), -ENOENT);
	CHECK(strstr(gdn_err_str(err), "does not exist") != NULL);
	err = gdn_err_free(err);
	CHECK_INTEQ(gd_runtime_state(&cfg, "broken", &pid, NULL, NULL, &err), -EIO);
	CHECK(strstr(gdn_err_str(err), "permission denied") != NULL);
	gdn_err_free(err);
}

static void test_delete(void)
{
	char rt[128];
	struct gd_config cfg = fake_cfg(rt, sizeof(rt));
	struct gdn_err *err = NULL;

	CHECK_OK(gd_runtime_delete(&cfg, "h", true, NULL, &err), err);
	_cleanup_free_ char *args = read_args();
	CHECK_STREQ(args, "delete\n--force\nh\n");
	CHECK_OK(gd_runtime_delete(&cfg, "gone", true, NULL, &err), err);
	CHECK(gd_runtime_delete(&cfg, "broken", false, NULL, &err) < 0);
	CHECK_STREQ(gdn_err_str(err), "fake-rt delete: exit status 1: cannot kill: boom");
	gdn_err_free(err);
}

static void test_missing_runtime_binary(void)
{
	struct gd_config cfg = {.runtime = "/nonexistent/runtime"};
	struct gdn_err *err = NULL;
	CHECK(gd_runtime_run(&cfg, "h", tap_tmp, NULL, &err) < 0);
	CHECK(strstr(gdn_err_str(err), "/nonexistent/runtime") != NULL);
	gdn_err_free(err);
}

static void test_log_error_runc_and_crun_formats(void)
{
	char *m = gdn_runtime_log_error(
	    "{\"level\":\"info\",\"msg\":\"x\",\"time\":\"t\"}\n"
	    "{\"level\":\"error\",\"msg\":\"runc run failed: bad\",\"time\":\"t\"}\n");
	CHECK_STREQ(m, "runc run failed: bad");
	free(m);

	m = gdn_runtime_log_error(
	    "{\"msg\": \"cannot mount\", \"level\": \"error\", \"time\": \"t\"}");
	CHECK_STREQ(m, "cannot mount");
	free(m);

	m = gdn_runtime_log_error("{\"level\":\"error\",\"msg\":\"one\"}\n"
				  "{\"level\":\"error\",\"msg\":\"two\"}\n");
	CHECK_STREQ(m, "two");
	free(m);
}

static void test_log_error_keeps_the_nsexec_fatal_cause(void)
{
	char *m = gdn_runtime_log_error(
	    "{\"level\":\"fatal\",\"msg\":\"nsexec-0[1]: failed to open mount source /x\"}\n"
	    "{\"level\":\"fatal\",\"msg\":\"nsexec-1[2]: later\"}\n"
	    "{\"level\":\"error\",\"msg\":\"can't get final child's PID from pipe: EOF\"}\n");
	CHECK_STREQ(m, "can't get final child's PID from pipe: EOF (nsexec-0[1]: failed to open "
		       "mount source /x)");
	free(m);

	m = gdn_runtime_log_error("{\"level\":\"fatal\",\"msg\":\"only fatal\"}\n");
	CHECK_STREQ(m, "only fatal");
	free(m);
}

static void test_log_error_falls_back_to_last_line(void)
{
	char *m = gdn_runtime_log_error("something\nplain text failure\n\n");
	CHECK_STREQ(m, "plain text failure");
	free(m);
	CHECK(gdn_runtime_log_error("") == NULL);
	CHECK(gdn_runtime_log_error("\n\n") == NULL);
}

static void test_argv_builder_and_its_bound(void)
{
	const char *extra[] = {"--debug", "--systemd-cgroup", NULL};
	struct gdn_runtime rt = {.path = "/usr/bin/runc", .root = "/r", .extra_args = extra};
	struct gdn_runtime_argv a;
	struct gdn_err *err = NULL;
	size_t i;

	CHECK_STREQ(gdn_runtime_name(&rt), "runc");
	gdn_runtime_argv_init(&a, &rt, "x.log");
	gdn_runtime_argv_add(&a, "state");
	CHECK_OK(gdn_runtime_argv_check(&a, &rt, "state", &err), err);
	CHECK_INTEQ(a.n, 10);
	CHECK_STREQ(a.v[0], "/usr/bin/runc");
	CHECK_STREQ(a.v[1], "--root");
	CHECK_STREQ(a.v[3], "--log");
	CHECK_STREQ(a.v[4], "x.log");
	CHECK_STREQ(a.v[6], "json");
	CHECK_STREQ(a.v[7], "--debug");
	CHECK_STREQ(a.v[9], "state");
	CHECK(a.v[10] == NULL);
	/* no --log: none of its four words */
	gdn_runtime_argv_init(&a, &rt, NULL);
	CHECK_INTEQ(a.n, 5);
	/* filling it up exactly is fine ... */
	for (i = a.n; i < GDN_RUNTIME_ARGV_MAX; i++)
		gdn_runtime_argv_add(&a, "a");
	CHECK_OK(gdn_runtime_argv_check(&a, &rt, "exec", &err), err);
	CHECK_INTEQ(a.n, GDN_RUNTIME_ARGV_MAX);
	CHECK(a.v[GDN_RUNTIME_ARGV_MAX] == NULL);
	/* ... one more is an error, never a silently shorter argv */
	gdn_runtime_argv_add(&a, "one-too-many");
	CHECK_INTEQ(a.n, GDN_RUNTIME_ARGV_MAX);
	CHECK_INTEQ(gdn_runtime_argv_check(&a, &rt, "exec", &err), -E2BIG);
	CHECK_STREQ(gdn_err_str(err), "runc exec: more than 64 arguments");
	gdn_err_free(err);
}

static void test_too_many_extra_args_are_refused(void)
{
	char rt[128];
	struct gd_config cfg = fake_cfg(rt, sizeof(rt));
	const char *extra[GDN_RUNTIME_ARGV_MAX + 1];
	struct gdn_err *err = NULL;
	char path[160];

	for (size_t i = 0; i < GDN_RUNTIME_ARGV_MAX; i++)
		extra[i] = "--x";
	extra[GDN_RUNTIME_ARGV_MAX] = NULL;
	cfg.runtime_extra_args = extra;
	CHECK_INTEQ(gd_runtime_run(&cfg, "ok", tap_tmp, NULL, &err), -E2BIG);
	CHECK(strstr(gdn_err_str(err), "fake-rt run: more than") != NULL);
	gdn_err_free(err);
	/* it was not run at all */
	snprintf(path, sizeof(path), "%s/args", tap_tmp);
	CHECK(access(path, F_OK) < 0);
}

static void test_failed_message_log_then_stderr(void)
{
	struct gdn_runtime rt = {.path = "/bin/crun"};
	struct gdn_err *err = NULL;
	char log[160];
	static const char text[] = "{\"msg\":\"from the log\",\"level\":\"error\"}\n";

	snprintf(log, sizeof(log), "%s/rt.log", tap_tmp);
	/* no log file: stderr */
	CHECK_INTEQ(gdn_runtime_failed(&rt, "run", 2, log, "junk\nfrom stderr\n", &err), -EIO);
	CHECK_STREQ(gdn_err_str(err), "crun run: exit status 2: from stderr");
	err = gdn_err_free(err);
	/* a log with an error: the log wins */
	CHECK_OK(gdn_fs_write_atomic(log, text, strlen(text), 0600, &err), err);
	CHECK_INTEQ(gdn_runtime_failed(&rt, "run", 2, log, "from stderr\n", &err), -EIO);
	CHECK_STREQ(gdn_err_str(err), "crun run: exit status 2: from the log");
	err = gdn_err_free(err);
	/* nothing at all */
	CHECK_INTEQ(gdn_runtime_failed(&rt, "delete", 1, NULL, "", &err), -EIO);
	CHECK_STREQ(gdn_err_str(err), "crun delete: exit status 1");
	err = gdn_err_free(err);
	/* an exec whose executable is missing */
	gdn_runtime_failed(&rt, "exec", 1, NULL,
			   "executable file `x` not found in $PATH: No such file or directory",
			   &err);
	CHECK_INTEQ(err->kind, GDN_ERR_EXECUTABLE_NOT_FOUND);
	err = gdn_err_free(err);
	/* ... but that is an exec's kind only */
	gdn_runtime_failed(&rt, "run", 1, NULL,
			   "executable file `x` not found in $PATH: No such file or directory",
			   &err);
	CHECK_INTEQ(err->kind, GDN_ERR_GENERIC);
	gdn_err_free(err);
}

/* The pid the hung fake runtime wrote, and that it is gone (killed and reaped). */
static void check_hung_runtime_gone(void)
{
	char path[160];
	char *text = NULL;
	size_t len = 0;
	uint32_t pid = 0;
	struct gdn_err *err = NULL;

	snprintf(path, sizeof(path), "%s/hung.pid", tap_tmp);
	CHECK_OK(gdn_fs_read_file(path, 64, &text, &len, &err), err);
	text[strcspn(text, "\n")] = '\0';
	CHECK(gdn_parse_u32(text, &pid) == 0 && pid > 1);
	free(text);
	CHECK(kill((pid_t)pid, 0) < 0 && errno == ESRCH);
	CHECK(unlink(path) == 0);
}

static void test_deadline_of_run_state_delete(void)
{
	char rt[128];
	struct gd_config cfg = fake_cfg(rt, sizeof(rt));
	struct gdn_err *err = NULL;
	uint64_t t0;
	pid_t pid = 0;

	cfg.runtime_timeout_ns = 300 * 1000000ULL;
	t0 = gdn_now_mono_ns();
	CHECK_INTEQ(gd_runtime_run(&cfg, "hang", tap_tmp, NULL, &err), -ETIMEDOUT);
	CHECK(gdn_now_mono_ns() - t0 < 3000000000ULL);
	CHECK_STREQ(gdn_err_str(err), "fake-rt run: timed out after 300ms: the runtime was killed");
	err = gdn_err_free(err);
	check_hung_runtime_gone();
	CHECK_INTEQ(gd_runtime_state(&cfg, "hang", &pid, NULL, NULL, &err), -ETIMEDOUT);
	CHECK_STREQ(gdn_err_str(err),
		    "fake-rt state: timed out after 300ms: the runtime was killed");
	err = gdn_err_free(err);
	check_hung_runtime_gone();
	cfg.runtime_timeout_ns = 1000000000ULL;
	CHECK_INTEQ(gd_runtime_delete(&cfg, "hang", true, NULL, &err), -ETIMEDOUT);
	CHECK_STREQ(gdn_err_str(err), "fake-rt delete: timed out after 1s: the runtime was killed");
	gdn_err_free(err);
	check_hung_runtime_gone();
	/* no child of ours is left, not even a zombie */
	CHECK(waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD);
}

int main(void)
{
	static const struct tap_test tests[] = {
	    TEST(test_run_passes_gardens_arguments),
	    TEST(test_run_failure_reports_status_and_log),
	    TEST(test_run_failure_message_from_stderr),
	    TEST(test_state),
	    TEST(test_delete),
	    TEST(test_missing_runtime_binary),
	    TEST(test_log_error_runc_and_crun_formats),
	    TEST(test_log_error_keeps_the_nsexec_fatal_cause),
	    TEST(test_log_error_falls_back_to_last_line),
	    TEST(test_argv_builder_and_its_bound),
	    TEST(test_too_many_extra_args_are_refused),
	    TEST(test_failed_message_log_then_stderr),
	    TEST(test_deadline_of_run_state_delete),
	};
	return tap_run(tests, GDN_ARRAY_SIZE(tests));
}
