#include <errno.h>
#include <string.h>
#include "lib/err.h"
#include "test/unit/tap.h"

static void test_set_formats_and_returns(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	int r = gdn_err_set(&err, ENOENT, "open '%s'", "/x");

	CHECK_INTEQ(r, -ENOENT);
	CHECK(err != NULL);
	CHECK_STREQ(gdn_err_str(err), "open '/x': No such file or directory");
	CHECK_INTEQ(err->errnum, ENOENT);
	CHECK_INTEQ(err->kind, GDN_ERR_GENERIC);
	CHECK_INTEQ(err->http_status, 0);
	CHECK_INTEQ(gdn_err_code(err), -ENOENT);
}

static void test_set_zero_is_eio_without_strerror(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;

	CHECK_INTEQ(gdn_err_set(&err, 0, "bad %d", 7), -EIO);
	CHECK_STREQ(gdn_err_str(err), "bad 7");
	CHECK_INTEQ(gdn_err_code(err), -EIO);
}

static void test_set_keeps_first(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;

	gdn_err_set(&err, EPERM, "first");
	CHECK_INTEQ(gdn_err_set(&err, ENOENT, "second"), -ENOENT);
	CHECK_STREQ(gdn_err_str(err), "first: Operation not permitted");
	CHECK_INTEQ(err->errnum, EPERM);
}

static void test_set_null_err(void)
{
	CHECK_INTEQ(gdn_err_set(NULL, EINVAL, "x"), -EINVAL);
	CHECK_INTEQ(gdn_err_kind(NULL, GDN_ERR_GENERIC, 0, "x"), -EIO);
	CHECK_INTEQ(gdn_err_wrap(NULL, "ctx"), -EIO);
}

static void test_wrap(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	struct gdn_err *none = NULL;

	gdn_err_set(&err, EACCES, "open 'f'");
	CHECK_INTEQ(gdn_err_wrap(&err, "load %s", "cfg"), -EACCES);
	CHECK_STREQ(gdn_err_str(err), "load cfg: open 'f': Permission denied");
	CHECK_INTEQ(gdn_err_wrap(&none, "ctx"), -EIO);
	CHECK(none == NULL);
}

static void test_kind_not_found(void)
{
	_cleanup_err_ struct gdn_err *a = NULL, *b = NULL, *c = NULL;

	CHECK_INTEQ(gdn_err_kind(&a, GDN_ERR_EXECUTABLE_NOT_FOUND, ENOENT, "no %s", "ls"), -ENOENT);
	CHECK_STREQ(gdn_err_str(a), "no ls");
	CHECK_INTEQ(a->kind, GDN_ERR_EXECUTABLE_NOT_FOUND);
	CHECK_INTEQ(gdn_err_not_found(&b, "h1"), -ENOENT);
	CHECK_STREQ(gdn_err_str(b), "unknown handle: h1");
	CHECK_STREQ(b->handle, "h1");
	CHECK_INTEQ(b->kind, GDN_ERR_CONTAINER_NOT_FOUND);
	CHECK_INTEQ(gdn_err_process_not_found(&c, "p9"), -ENOENT);
	CHECK_STREQ(gdn_err_str(c), "unknown process: p9");
	CHECK_STREQ(c->process_id, "p9");
	CHECK_INTEQ(c->kind, GDN_ERR_PROCESS_NOT_FOUND);
}

static void test_str_and_free_null(void)
{
	CHECK_STREQ(gdn_err_str(NULL), "unknown error");
	CHECK(gdn_err_free(NULL) == NULL);
	CHECK_INTEQ(gdn_err_code(NULL), -EIO);
}

static void test_negative_errnum_normalised(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;

	CHECK_INTEQ(gdn_err_set(&err, -EBUSY, "x"), -EBUSY);
	CHECK_INTEQ(err->errnum, EBUSY);
}

int main(void)
{
	static const struct tap_test tests[] = {
	    TEST(test_set_formats_and_returns),
	    TEST(test_set_zero_is_eio_without_strerror),
	    TEST(test_set_keeps_first),
	    TEST(test_set_null_err),
	    TEST(test_wrap),
	    TEST(test_kind_not_found),
	    TEST(test_str_and_free_null),
	    TEST(test_negative_errnum_normalised),
	};
	return tap_run(tests, GDN_ARRAY_SIZE(tests));
}
