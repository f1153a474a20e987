#include <errno.h>
#include <stdint.h>
#include <string.h>
#include "lib/util.h"
#include "test/unit/tap.h"

static void test_parse_u64(void)
{
	uint64_t v = 0;

	CHECK_INTEQ(gdn_parse_u64("0", &v), 0);
	CHECK(v == 0);
	CHECK_INTEQ(gdn_parse_u64("007", &v), 0);
	CHECK(v == 7);
	CHECK_INTEQ(gdn_parse_u64("18446744073709551615", &v), 0);
	CHECK(v == UINT64_MAX);
	CHECK_INTEQ(gdn_parse_u64("18446744073709551616", &v), -ERANGE);
	CHECK_INTEQ(gdn_parse_u64("99999999999999999999999", &v), -ERANGE);
	CHECK_INTEQ(gdn_parse_u64("", &v), -EINVAL);
	CHECK_INTEQ(gdn_parse_u64(NULL, &v), -EINVAL);
	CHECK_INTEQ(gdn_parse_u64("-1", &v), -EINVAL);
	CHECK_INTEQ(gdn_parse_u64("+1", &v), -EINVAL);
	CHECK_INTEQ(gdn_parse_u64(" 1", &v), -EINVAL);
	CHECK_INTEQ(gdn_parse_u64("1 ", &v), -EINVAL);
	CHECK_INTEQ(gdn_parse_u64("12a", &v), -EINVAL);
	CHECK_INTEQ(gdn_parse_u64("0x10", &v), -EINVAL);
}

static void test_parse_i64(void)
{
	int64_t v = 0;

	CHECK_INTEQ(gdn_parse_i64("-42", &v), 0);
	CHECK(v == -42);
	CHECK_INTEQ(gdn_parse_i64("+42", &v), 0);
	CHECK(v == 42);
	CHECK_INTEQ(gdn_parse_i64("9223372036854775807", &v), 0);
	CHECK(v == INT64_MAX);
	CHECK_INTEQ(gdn_parse_i64("-9223372036854775808", &v), 0);
	CHECK(v == INT64_MIN);
	CHECK_INTEQ(gdn_parse_i64("9223372036854775808", &v), -ERANGE);
	CHECK_INTEQ(gdn_parse_i64("-9223372036854775809", &v), -ERANGE);
	CHECK_INTEQ(gdn_parse_i64("-", &v), -EINVAL);
	CHECK_INTEQ(gdn_parse_i64("", &v), -EINVAL);
	CHECK_INTEQ(gdn_parse_i64("--1", &v), -EINVAL);
	CHECK_INTEQ(gdn_parse_i64("1.5", &v), -EINVAL);
}

static void test_parse_u32(void)
{
	uint32_t v = 0;

	CHECK_INTEQ(gdn_parse_u32("4294967295", &v), 0);
	CHECK(v == UINT32_MAX);
	CHECK_INTEQ(gdn_parse_u32("4294967296", &v), -ERANGE);
	CHECK_INTEQ(gdn_parse_u32("-0", &v), -EINVAL);
	CHECK_INTEQ(gdn_parse_u32("12", &v), 0);
	CHECK(v == 12);
}

static void test_uuid(void)
{
	char a[37], b[37];

	gdn_uuid_v4(a);
	gdn_uuid_v4(b);
	CHECK_INTEQ(strlen(a), 36);
	CHECK(strcmp(a, b) != 0);
	for (int i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23)
			CHECK(a[i] == '-');
		else
			CHECK(strchr("0123456789abcdef", a[i]) != NULL);
	}
	CHECK(a[14] == '4');
	CHECK(strchr("89ab", a[19]) != NULL);
}

static void test_clocks(void)
{
	uint64_t m1 = gdn_now_mono_ns(), m2 = gdn_now_mono_ns();
	uint64_t r = gdn_now_real_ns();

	CHECK(m2 >= m1);
	CHECK(r > 1600000000ULL * 1000000000ULL);
}

static void test_json_get(void)
{
	json_auto_t *o = json_pack("{s:i, s:i, s:s}", "Handle", 1, "handle", 2, "Other", "x");

	CHECK(o != NULL);
	CHECK_INTEQ(json_integer_value(gdn_json_get(o, "handle")), 2);
	CHECK_INTEQ(json_integer_value(gdn_json_get(o, "Handle")), 1);
	CHECK_STREQ(json_string_value(gdn_json_get(o, "OTHER")), "x");
	CHECK(gdn_json_get(o, "missing") == NULL);
	CHECK(gdn_json_get(NULL, "x") == NULL);
	{
		json_auto_t *arr = json_array();

		CHECK(gdn_json_get(arr, "x") == NULL);
	}
}

static void test_json_line(void)
{
	json_auto_t *o = json_pack("{s:s, s:[i,i]}", "a", "x\ny", "b", 1, 2);
	json_auto_t *n = json_integer(5);
	size_t len = 0;
	char *s = gdn_json_line(o, &len);

	CHECK_STREQ(s, "{\"a\":\"x\\ny\",\"b\":[1,2]}\n");
	CHECK_INTEQ(len, strlen(s));
	free(s);
	s = gdn_json_line(n, NULL);
	CHECK_STREQ(s, "5\n");
	free(s);
	CHECK(gdn_json_line(NULL, NULL) == NULL);
}

int main(void)
{
	static const struct tap_test tests[] = {
	    TEST(test_parse_u64), TEST(test_parse_i64), TEST(test_parse_u32), TEST(test_uuid),
	    TEST(test_clocks),	  TEST(test_json_get),	TEST(test_json_line),
	};
	return tap_run(tests, GDN_ARRAY_SIZE(tests));
}
