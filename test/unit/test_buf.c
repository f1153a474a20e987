#include <errno.h>
#include <string.h>
#include "lib/buf.h"
#include "test/unit/tap.h"

static void test_append_and_nul(void)
{
	_cleanup_buf_ struct gdn_buf b = {0};

	CHECK_INTEQ(gdn_buf_append(&b, "abc", 3), 0);
	CHECK_INTEQ(b.len, 3);
	CHECK_STREQ(b.data, "abc");
	CHECK_INTEQ(gdn_buf_puts(&b, "de"), 0);
	CHECK_STREQ(b.data, "abcde");
	CHECK(b.cap > b.len);
}

static void test_empty_append_allocates(void)
{
	_cleanup_buf_ struct gdn_buf b = {0};

	CHECK_INTEQ(gdn_buf_append(&b, "", 0), 0);
	CHECK(b.data != NULL);
	CHECK_STREQ(b.data, "");
	CHECK_INTEQ(b.len, 0);
}

static void test_printf_grows(void)
{
	_cleanup_buf_ struct gdn_buf b = {0};
	char big[1000];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CHECK_INTEQ(gdn_buf_printf(&b, "%d-%s", 42, "a"), 0);
	CHECK_STREQ(b.data, "42-a");
	CHECK_INTEQ(gdn_buf_printf(&b, "[%s]", big), 0);
	CHECK_INTEQ(b.len, 4 + 2 + 999);
	CHECK(b.data[b.len] == '\0');
	CHECK(b.data[b.len - 1] == ']');
}

static void test_binary_data(void)
{
	_cleanup_buf_ struct gdn_buf b = {0};

	CHECK_INTEQ(gdn_buf_append(&b, "a\0b", 3), 0);
	CHECK_INTEQ(b.len, 3);
	CHECK(memcmp(b.data, "a\0b", 3) == 0);
}

static void test_consume_reset(void)
{
	_cleanup_buf_ struct gdn_buf b = {0};

	gdn_buf_puts(&b, "hello world");
	gdn_buf_consume(&b, 6);
	CHECK_STREQ(b.data, "world");
	CHECK_INTEQ(b.len, 5);
	gdn_buf_consume(&b, 100);
	CHECK_INTEQ(b.len, 0);
	CHECK_STREQ(b.data, "");
	gdn_buf_puts(&b, "x");
	gdn_buf_reset(&b);
	CHECK_INTEQ(b.len, 0);
	CHECK(b.data != NULL);
	CHECK_STREQ(b.data, "");
}

static void test_steal_and_free(void)
{
	struct gdn_buf b = {0};
	size_t len = 0;
	char *s;

	gdn_buf_puts(&b, "data");
	s = gdn_buf_steal(&b, &len);
	CHECK_STREQ(s, "data");
	CHECK_INTEQ(len, 4);
	CHECK(b.data == NULL && b.len == 0 && b.cap == 0);
	free(s);
	s = gdn_buf_steal(&b, NULL);
	CHECK(s == NULL);
	gdn_buf_free(&b);
	gdn_buf_consume(&b, 3); /* safe on an empty buffer */
	gdn_buf_reset(&b);
	CHECK(b.data == NULL);
}

static void test_large(void)
{
	_cleanup_buf_ struct gdn_buf b = {0};

	for (int i = 0; i < 100000; i++)
		CHECK_INTEQ(gdn_buf_append(&b, "0123456789", 10), 0);
	CHECK_INTEQ(b.len, 1000000);
	CHECK(b.data[999999] == '9');
}

int main(void)
{
	static const struct tap_test tests[] = {
	    TEST(test_append_and_nul), TEST(test_empty_append_allocates), TEST(test_printf_grows),
	    TEST(test_binary_data),    TEST(test_consume_reset),	  TEST(test_steal_and_free),
	    TEST(test_large),
	};
	return tap_run(tests, GDN_ARRAY_SIZE(tests));
}
