/* link: cmd/guardian/process_spec.c cmd/guardian/spec.c cmd/guardian/caps.c */
#include <stdbool.h>
#include <string.h>

#include "test/unit/tap.h"
#include "lib/util.h"
#include "cmd/guardian/process_spec.h"

static int parse(const char *body, struct gd_process_spec *s, struct gdn_err **err)
{
	return gd_process_spec_parse(body, strlen(body), s, err);
}

/* `body` is refused with an error whose message is exactly `want` (or contains it when `want`
 * starts with "..."), and nothing is returned. */
static void expect_error(const char *body, const char *want)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	struct gd_process_spec s = {0};
	bool partial = strncmp(want, "...", 3) == 0;

	if (parse(body, &s, &err) >= 0)
		tap_fail_(__FILE__, __LINE__, "'%s' parsed, wanted the error '%s'", body, want);
	if (partial ? !strstr(gdn_err_str(err), want + 3) : strcmp(gdn_err_str(err), want) != 0)
		tap_fail_(__FILE__, __LINE__, "'%s': error '%s', wanted '%s'", body,
			  gdn_err_str(err), want);
	CHECK(s.path == NULL && s.id == NULL && s.rlimits == NULL);
}

static void test_go_client_body(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	struct gd_process_spec s = {0};

	CHECK_OK(
	    parse("{\"id\":\"p1\",\"path\":\"sh\",\"args\":[\"-c\",\"exit 3\"],\"env\":[\"A=b\"],"
		  "\"dir\":\"/tmp\",\"user\":\"vcap\",\"rlimits\":{\"nofile\":512},"
		  "\"tty\":{\"window_size\":{\"columns\":65535,\"rows\":0}},\"image\":{}}",
		  &s, &err),
	    err);
	CHECK_STREQ(s.id, "p1");
	CHECK_STREQ(s.path, "sh");
	CHECK_STREQ(s.args[1], "exit 3");
	CHECK(s.args[2] == NULL);
	CHECK_STREQ(s.env[0], "A=b");
	CHECK_STREQ(s.dir, "/tmp");
	CHECK_STREQ(s.user, "vcap");
	CHECK(s.tty);
	CHECK_INTEQ(s.cols, 65535);
	CHECK_INTEQ(s.rows, 0);
	CHECK_INTEQ(json_array_size(s.rlimits), 1);
	gd_process_spec_free(&s);
}

static void test_generated_id_and_defaults(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	struct gd_process_spec s = {0};

	CHECK_OK(parse("{\"path\":\"true\",\"tty\":null,\"rlimits\":{}}", &s, &err), err);
	CHECK_INTEQ(strlen(s.id), 36);
	CHECK(!s.tty);
	CHECK_STREQ(s.dir, "");
	CHECK_STREQ(s.user, "");
	CHECK(s.args[0] == NULL && s.env[0] == NULL);
	gd_process_spec_free(&s);
}

static void test_wrong_types(void)
{
	expect_error("[1]",
		     "json: cannot unmarshal non-object into Go value of type garden.ProcessSpec");
	expect_error("{\"path\":", "...invalid JSON");
	expect_error(
	    "{\"path\":\"true\",\"tty\":{\"window_size\":{\"columns\":\"80\"}}}",
	    "json: cannot unmarshal string into Go struct field WindowSize.columns of type "
	    "uint16");
	expect_error("{\"path\":\"true\",\"tty\":{\"window_size\":{\"rows\":true}}}",
		     "json: cannot unmarshal bool into Go struct field WindowSize.rows of type "
		     "uint16");
	expect_error("{\"path\":\"true\",\"rlimits\":{\"nofile\":\"many\"}}",
		     "json: cannot unmarshal string into Go struct field ResourceLimits.nofile of "
		     "type uint64");
}

/* A number that a Go uint16/uint64 cannot hold is refused as Go refuses it, naming the number;
 * it used to be masked to 16 bits (70000 columns became 4464). */
static void test_numbers_out_of_range(void)
{
	expect_error("{\"path\":\"true\",\"tty\":{\"window_size\":{\"columns\":70000}}}",
		     "json: cannot unmarshal number 70000 into Go struct field WindowSize.columns "
		     "of type uint16");
	expect_error(
	    "{\"path\":\"true\",\"tty\":{\"window_size\":{\"columns\":80,\"rows\":-1}}}",
	    "json: cannot unmarshal number -1 into Go struct field WindowSize.rows of type "
	    "uint16");
	expect_error("{\"path\":\"true\",\"tty\":{\"window_size\":{\"rows\":2.5}}}",
		     "json: cannot unmarshal number 2.5 into Go struct field WindowSize.rows of "
		     "type uint16");
	expect_error(
	    "{\"path\":\"true\",\"rlimits\":{\"nproc\":-1}}",
	    "json: cannot unmarshal number -1 into Go struct field ResourceLimits.nproc of "
	    "type uint64");
}

/* Every uint64 rlimit is taken exactly (it was "invalid JSON: too big integer" from 2^63) and
 * reaches the OCI process JSON unchanged; 2^64 gets Go's error. */
static void test_big_rlimits(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	struct gd_process_spec s = {0};
	_cleanup_free_ char *line = NULL;

	CHECK_OK(parse("{\"path\":\"true\",\"rlimits\":{\"nofile\":18446744073709551615,"
		       "\"as\":9223372036854775808}}",
		       &s, &err),
		 err);
	line = gdn_json_line(s.rlimits, NULL);
	CHECK_STREQ(line, "[{\"type\":\"RLIMIT_AS\",\"hard\":9223372036854775808,\"soft\":"
			  "9223372036854775808},{\"type\":\"RLIMIT_NOFILE\",\"hard\":"
			  "18446744073709551615,\"soft\":18446744073709551615}]\n");
	gd_process_spec_free(&s);
	expect_error("{\"path\":\"true\",\"rlimits\":{\"nofile\":18446744073709551616}}",
		     "json: cannot unmarshal number 18446744073709551616 into Go struct field "
		     "ResourceLimits.nofile of type uint64");
}

static void test_bad_values(void)
{
	expect_error("{}", "process spec has no path");
	expect_error("{\"path\":\"true\",\"env\":[\"NOEQUALS\"]}",
		     "invalid env entry 'NOEQUALS': must be KEY=VALUE");
	expect_error("{\"path\":\"true\",\"dir\":\"rel\"}", "dir 'rel' must be an absolute path");
	expect_error("{\"path\":\"true\",\"id\":\"a/b\"}", "...a/b");
	expect_error("{\"path\":\"true\",\"bind_mounts\":[{}]}",
		     "Running a process with bind mounts and no image provided is not allowed");
}

int main(void)
{
	static const struct tap_test tests[] = {
	    TEST(test_go_client_body), TEST(test_generated_id_and_defaults),
	    TEST(test_wrong_types),    TEST(test_numbers_out_of_range),
	    TEST(test_bad_values),     TEST(test_big_rlimits),
	};
	return tap_run(tests, GDN_ARRAY_SIZE(tests));
}
