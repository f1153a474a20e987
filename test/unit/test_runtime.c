/* link: cmd/guardian/runtime.c */
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>

#include "test/unit/tap.h"
#include "lib/fs.h"
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

	CHECK_OK(gd_runtime_run(&cfg, "ok", tap_tmp, &err), err);
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

	CHECK(gd_runtime_run(&cfg, "h", tap_tmp, &err) < 0);
	CHECK_STREQ(gdn_err_str(err), "early-fail run: exit status 1: chdir `/x` failed: nope");
	gdn_err_free(err);
}

static void test_run_failure_reports_status_and_log(void)
{
	char rt[128];
	struct gd_config cfg = fake_cfg(rt, sizeof(rt));
	struct gdn_err *err = NULL;

	int r = gd_runtime_run(&cfg, "bad", tap_tmp, &err);
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

	CHECK_OK(gd_runtime_state(&cfg, "alive", &pid, &status, &err), err);
	CHECK_INTEQ(pid, 4242);
	CHECK_STREQ(status, "running");
	free(status);
	_cleanup_free_ char *args = read_args();
	CHECK_STREQ(args, "state\nalive\n");

	CHECK_INTEQ(gd_runtime_state(&cfg, "nope", &pid, NULL, &err), -ENOENT);
	CHECK(strstr(gdn_err_str(err), "does not exist") != NULL);
	err = gdn_err_free(err);
	CHECK_INTEQ(gd_runtime_state(&cfg, "broken", &pid, NULL, &err), -EIO);
	CHECK(strstr(gdn_err_str(err), "permission denied") != NULL);
	gdn_err_free(err);
}

static void test_delete(void)
{
	char rt[128];
	struct gd_config cfg = fake_cfg(rt, sizeof(rt));
	struct gdn_err *err = NULL;

	CHECK_OK(gd_runtime_delete(&cfg, "h", true, &err), err);
	_cleanup_free_ char *args = read_args();
	CHECK_STREQ(args, "delete\n--force\nh\n");
	CHECK_OK(gd_runtime_delete(&cfg, "gone", true, &err), err);
	CHECK(gd_runtime_delete(&cfg, "broken", false, &err) < 0);
	CHECK_STREQ(gdn_err_str(err), "fake-rt delete: exit status 1: cannot kill: boom");
	gdn_err_free(err);
}

static void test_missing_runtime_binary(void)
{
	struct gd_config cfg = {.runtime = "/nonexistent/runtime"};
	struct gdn_err *err = NULL;
	CHECK(gd_runtime_run(&cfg, "h", tap_tmp, &err) < 0);
	CHECK(strstr(gdn_err_str(err), "/nonexistent/runtime") != NULL);
	gdn_err_free(err);
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
	};
	return tap_run(tests, GDN_ARRAY_SIZE(tests));
}
