#include <errno.h>
#include <string.h>
#include "lib/path.h"
#include "test/unit/tap.h"

static void check_invalid(const char *what, const char *name, const char *msg)
{
	_cleanup_err_ struct gdn_err *err = NULL;

	CHECK_INTEQ(gdn_name_validate(what, name, &err), -EINVAL);
	CHECK(err != NULL);
	CHECK_STREQ(gdn_err_str(err), msg);
	CHECK_INTEQ(err->http_status, 400);
	CHECK_INTEQ(err->errnum, EINVAL);
}

static void test_valid_names(void)
{
	static const char *const ok[] = {"a", "web-1", "A.b_c+f-g", "...", "x..", "0"};
	char max[GDN_HANDLE_MAX + 1];
	struct gdn_err *err = NULL;

	for (size_t i = 0; i < GDN_ARRAY_SIZE(ok); i++)
		CHECK_OK(gdn_name_validate("handle", ok[i], &err), err);
	memset(max, 'h', GDN_HANDLE_MAX);
	max[GDN_HANDLE_MAX] = '\0';
	CHECK_OK(gdn_name_validate("handle", max, &err), err);
	CHECK(err == NULL);
}

static void test_invalid_names(void)
{
	char longname[GDN_HANDLE_MAX + 2], msg[512];

	check_invalid("handle", "a/b",
		      "invalid handle 'a/b': may contain only letters, digits and . _ + -");
	check_invalid("process ID", "a b",
		      "invalid process ID 'a b': may contain only letters, digits and . _ + -");
	check_invalid("handle", "", "invalid handle '': must not be empty");
	check_invalid("handle", NULL, "invalid handle '': must not be empty");
	check_invalid("handle", "..", "'..' is not a valid handle");
	check_invalid("process ID", ".", "'.' is not a valid process ID");
	check_invalid("handle", "x\ny",
		      "invalid handle 'x\ny': may contain only letters, digits and . _ + -");
	memset(longname, 'h', GDN_HANDLE_MAX + 1);
	longname[GDN_HANDLE_MAX + 1] = '\0';
	snprintf(msg, sizeof(msg), "invalid handle '%.*s...': too long (max %d)", GDN_HANDLE_MAX,
		 longname, GDN_HANDLE_MAX);
	check_invalid("handle", longname, msg);
}

static void test_keeps_existing_error(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;

	gdn_err_set(&err, EIO, "earlier");
	CHECK_INTEQ(gdn_name_validate("handle", "", &err), -EINVAL);
	CHECK_STREQ(gdn_err_str(err), "earlier: Input/output error");
	CHECK_INTEQ(err->http_status, 0);
}

static void test_join(void)
{
	char *s = gdn_path_join("/a", "b");

	CHECK_STREQ(s, "/a/b");
	free(s);
	s = gdn_path_join("/a/", "b");
	CHECK_STREQ(s, "/a/b");
	free(s);
	s = gdn_path_join("/", "etc");
	CHECK_STREQ(s, "/etc");
	free(s);
}

int main(void)
{
	static const struct tap_test tests[] = {
	    TEST(test_valid_names),
	    TEST(test_invalid_names),
	    TEST(test_keeps_existing_error),
	    TEST(test_join),
	};
	return tap_run(tests, GDN_ARRAY_SIZE(tests));
}
