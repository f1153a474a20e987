#include <stdlib.h>
#include <string.h>

#include "test/unit/tap.h"
#include "lib/runtime_log.h"

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

int main(void)
{
	static const struct tap_test tests[] = {
	    TEST(test_log_error_runc_and_crun_formats),
	    TEST(test_log_error_keeps_the_nsexec_fatal_cause),
	    TEST(test_log_error_falls_back_to_last_line),
	};
	return tap_run(tests, GDN_ARRAY_SIZE(tests));
}
