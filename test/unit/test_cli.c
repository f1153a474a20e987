#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "test/unit/tap.h"
#include "lib/cli.h"
#include "lib/fs.h"

/* Points fd (1 or 2) at a fresh file in the case's scratch dir; returns its path. */
static char *capture(int fd, const char *name)
{
	char *path = NULL;
	int f;

	CHECK(asprintf(&path, "%s/%s", tap_tmp, name) > 0);
	f = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	CHECK(f >= 0);
	CHECK(dup2(f, fd) == fd);
	(void)close(f);
	return path;
}

static char *slurp(const char *path)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	char *text = NULL;
	size_t len = 0;

	(void)fflush(stdout);
	(void)fflush(stderr);
	CHECK_OK(gdn_fs_read_file(path, 1 << 16, &text, &len, &err), err);
	return text;
}

static void test_version(void)
{
	_cleanup_free_ char *out = capture(STDOUT_FILENO, "out");
	_cleanup_free_ char *text = NULL;

	CHECK_INTEQ(gdn_cli_version("guardian"), GDN_CLI_EXIT_OK);
	text = slurp(out);
	CHECK_STREQ(text, "guardian " GDN_VERSION "\n");
}

static void test_help(void)
{
	_cleanup_free_ char *out = capture(STDOUT_FILENO, "out");
	_cleanup_free_ char *text = NULL;

	CHECK_INTEQ(gdn_cli_help("Usage: x\n" GDN_CLI_HELP_HELP_VERSION), GDN_CLI_EXIT_OK);
	text = slurp(out);
	CHECK(strncmp(text, "Usage: x\n", 9) == 0);
	CHECK(strstr(text, "--help"));
	CHECK(strstr(text, "--version"));
}

static void test_usage_error(void)
{
	_cleanup_free_ char *errpath = capture(STDERR_FILENO, "err");
	_cleanup_free_ char *text = NULL;

	CHECK_INTEQ(gdn_cli_usage_error("dadoo", "--runtime is %s", "required"), 2);
	CHECK_INTEQ(gdn_cli_usage_error("gaol", NULL), GDN_CLI_EXIT_USAGE);
	text = slurp(errpath);
	CHECK_STREQ(text, "dadoo: --runtime is required\nTry 'dadoo --help'.\n"
			  "Try 'gaol --help'.\n");
}

static void test_log_level(void)
{
	static const char *const names[] = {"debug", "info", "error", "fatal"};
	enum gdn_log_level l = GDN_LOG_FATAL;

	for (size_t i = 0; i < GDN_ARRAY_SIZE(names); i++) {
		_cleanup_err_ struct gdn_err *err = NULL;
		CHECK_OK(gdn_cli_log_level(names[i], &l, &err), err);
		CHECK_INTEQ(l, (int)i);
	}
	static const char *const bad[] = {"loud", "", "DEBUG", "info ", NULL};
	for (size_t i = 0; i < GDN_ARRAY_SIZE(bad); i++) {
		_cleanup_err_ struct gdn_err *err = NULL;
		char want[96];

		CHECK(gdn_cli_log_level(bad[i], &l, &err) == -EINVAL);
		snprintf(want, sizeof(want),
			 "--log-level: '%s' is not one of debug, info, error, fatal",
			 bad[i] ? bad[i] : "");
		CHECK_STREQ(gdn_err_str(err), want);
	}
}

static void test_mode_and_duration(void)
{
	unsigned m = 1;
	uint64_t ns = 0;
	static const char *const bad_modes[] = {"", "8", "1000", "0x7", "-1", "0660 ", NULL};
	static const char *const bad_durations[] = {"", "0s", "-1s", "5", "1d", NULL};

	CHECK(gdn_cli_mode("socket-mode", "0660", &m, NULL) == 0 && m == 0660);
	CHECK(gdn_cli_mode("socket-mode", "777", &m, NULL) == 0 && m == 0777);
	for (size_t i = 0; i < GDN_ARRAY_SIZE(bad_modes); i++) {
		_cleanup_err_ struct gdn_err *err = NULL;
		char want[96];

		CHECK(gdn_cli_mode("socket-mode", bad_modes[i], &m, &err) == -EINVAL);
		snprintf(want, sizeof(want), "--socket-mode: '%s' is not an octal mode",
			 bad_modes[i] ? bad_modes[i] : "");
		CHECK_STREQ(gdn_err_str(err), want);
	}
	CHECK(gdn_cli_duration("timeout", "5m10s", &ns, NULL) == 0 && ns == 310ull * 1000000000ull);
	for (size_t i = 0; i < GDN_ARRAY_SIZE(bad_durations); i++) {
		_cleanup_err_ struct gdn_err *err = NULL;
		char want[96];

		CHECK(gdn_cli_duration("timeout", bad_durations[i], &ns, &err) == -EINVAL);
		snprintf(want, sizeof(want), "--timeout: '%s' is not a positive duration",
			 bad_durations[i] ? bad_durations[i] : "");
		CHECK_STREQ(gdn_err_str(err), want);
	}
}

int main(void)
{
	static const struct tap_test tests[] = {
	    TEST(test_version),		  TEST(test_help),
	    TEST(test_usage_error),	  TEST(test_log_level),
	    TEST(test_mode_and_duration),
	};
	return tap_run(tests, GDN_ARRAY_SIZE(tests));
}
