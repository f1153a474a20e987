#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "test/unit/tap.h"
#include "lib/gojson.h"
#include "lib/util.h"

static struct gdn_gojson *decode(const char *body)
{
	struct gdn_err *err = NULL;
	struct gdn_gojson *v = NULL;

	if (gdn_gojson_decode(body, strlen(body), &v, &err) < 0)
		tap_fail_(__FILE__, __LINE__, "'%s': %s", body, gdn_err_str(err));
	return v;
}

/* The error text decoding `body` gives, malloc'd. */
static char *decode_error(const char *body, size_t len)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	struct gdn_gojson *v = NULL;

	if (gdn_gojson_decode(body, len, &v, &err) == 0) {
		gdn_gojson_free(v);
		return strdup("(decoded)");
	}
	return strdup(gdn_err_str(err));
}

#define CHECK_DECODE_ERR(body, want)                                                               \
	do {                                                                                       \
		_cleanup_free_ char *got_ = decode_error(body, strlen(body));                      \
		CHECK_STREQ(got_, want);                                                           \
	} while (0)

static void test_empty_body_is_eof(void)
{
	CHECK_DECODE_ERR("", "EOF");
	CHECK_DECODE_ERR(" \r\n\t", "EOF");
}

static void test_syntax_errors_read_as_go(void)
{
	CHECK_DECODE_ERR("{\"handle\":", "invalid JSON: unexpected EOF");
	CHECK_DECODE_ERR("{\"a\"", "invalid JSON: unexpected EOF");
	CHECK_DECODE_ERR("\"abc", "invalid JSON: unexpected EOF");
	CHECK_DECODE_ERR("x", "invalid JSON: invalid character 'x' looking for beginning of value");
	CHECK_DECODE_ERR("{1}",
			 "invalid JSON: invalid character '1' looking for beginning of object key "
			 "string");
	CHECK_DECODE_ERR("{\"a\" 1}", "invalid JSON: invalid character '1' after object key");
	CHECK_DECODE_ERR("{\"a\":1 \"b\"}",
			 "invalid JSON: invalid character '\"' after object key:value pair");
	CHECK_DECODE_ERR("[1 2]", "invalid JSON: invalid character '2' after array element");
	CHECK_DECODE_ERR("[1,]",
			 "invalid JSON: invalid character ']' looking for beginning of value");
	CHECK_DECODE_ERR("tru!",
			 "invalid JSON: invalid character '!' in literal true (expecting 'e')");
	CHECK_DECODE_ERR("-x", "invalid JSON: invalid character 'x' in numeric literal");
	CHECK_DECODE_ERR("1.x",
			 "invalid JSON: invalid character 'x' after decimal point in numeric "
			 "literal");
	CHECK_DECODE_ERR("1e+", "invalid JSON: unexpected EOF");
	CHECK_DECODE_ERR("\"a\nb\"", "invalid JSON: invalid character '\\n' in string literal");
	CHECK_DECODE_ERR("\"\\q\"", "invalid JSON: invalid character 'q' in string escape code");
	CHECK_DECODE_ERR("\"\\u12g4\"",
			 "invalid JSON: invalid character 'g' in \\u hexadecimal character escape");
	CHECK_DECODE_ERR("'",
			 "invalid JSON: invalid character '\\'' looking for beginning of value");
	{
		_cleanup_free_ char *got = decode_error("\"\\\0\"", 4);
		CHECK_STREQ(got, "invalid JSON: invalid character '\\x00' in string escape code");
	}
}

static void test_max_depth(void)
{
	size_t n = GDN_GOJSON_MAX_DEPTH + 1;
	_cleanup_free_ char *deep = malloc(2 * n + 1);
	_cleanup_free_ char *got = NULL;

	memset(deep, '[', n);
	memset(deep + n, ']', n);
	deep[2 * n] = '\0';
	got = decode_error(deep, 2 * n);
	CHECK_STREQ(got, "invalid JSON: exceeded max depth");
	/* the limit itself is fine */
	free(got);
	got = decode_error(deep + 1, 2 * n - 2);
	CHECK_STREQ(got, "(decoded)");
}

static void test_one_value_then_stop(void)
{
	_cleanup_gojson_ struct gdn_gojson *v = decode("{\"a\":1} trailing garbage {");

	CHECK(v->kind == GDN_GOJSON_OBJECT);
	CHECK_INTEQ(v->n, 1);
}

static void test_strings_decode_like_go(void)
{
	_cleanup_gojson_ struct gdn_gojson *v =
	    decode("[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\", \"\\u00e9\\ud83d\\ude00\", \"\\ud800x\", "
		   "\"\xff\xc3\xa9\xed\xa0\x80\", \"a\\u0000b\"]");

	CHECK_INTEQ(v->n, 5);
	CHECK_STREQ(v->items[0]->text, "\"\\/\b\f\n\r\t");
	CHECK_STREQ(v->items[1]->text, "\xc3\xa9\xf0\x9f\x98\x80");
	/* a lone surrogate and invalid UTF-8 become U+FFFD */
	CHECK_STREQ(v->items[2]->text, "\xef\xbf\xbdx");
	CHECK_STREQ(v->items[3]->text, "\xef\xbf\xbd\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	CHECK_INTEQ(v->items[4]->len, 3);
	CHECK(memcmp(v->items[4]->text, "a\0b", 3) == 0);
}

static void test_member_lookup_like_go(void)
{
	_cleanup_gojson_ struct gdn_gojson *v =
	    decode("{\"Handle\":\"a\",\"handle\":\"b\",\"HANDLE\":null,\"other\":1}");
	const struct gdn_gojson *h = gdn_gojson_member(v, "handle");

	/* the last member whose name matches wins; null changes nothing */
	CHECK(h && h->kind == GDN_GOJSON_STRING);
	CHECK_STREQ(h->text, "b");
	CHECK(gdn_gojson_member(v, "missing") == NULL);
	CHECK(gdn_gojson_member(v->items[0], "x") == NULL);
	CHECK(gdn_gojson_member(NULL, "x") == NULL);
}

static void test_uint64_full_range(void)
{
	_cleanup_gojson_ struct gdn_gojson *v =
	    decode("{\"max\":18446744073709551615,\"big\":9223372036854775808,\"zero\":0}");
	struct gdn_err *err = NULL;
	uint64_t u = 1;

	CHECK_OK(gdn_gojson_get_u64(v, "T", "max", &u, &err), err);
	CHECK(u == UINT64_MAX);
	CHECK_OK(gdn_gojson_get_u64(v, "T", "big", &u, &err), err);
	CHECK(u == (uint64_t)INT64_MAX + 1);
	CHECK_OK(gdn_gojson_get_u64(v, "T", "zero", &u, &err), err);
	CHECK(u == 0);
	u = 5;
	CHECK_OK(gdn_gojson_get_u64(v, "T", "absent", &u, &err), err);
	CHECK(u == 0);
}

static void expect_u64_error(const char *body, const char *want)
{
	_cleanup_gojson_ struct gdn_gojson *v = decode(body);
	_cleanup_err_ struct gdn_err *err = NULL;
	uint64_t u = 0;

	CHECK(gdn_gojson_get_u64(v, "Limits", "memory", &u, &err) == -EINVAL);
	CHECK_STREQ(gdn_err_str(err), want);
}

static void test_uint64_errors_read_as_go(void)
{
	expect_u64_error("{\"memory\":18446744073709551616}",
			 "json: cannot unmarshal number 18446744073709551616 into Go struct field "
			 "Limits.memory of type uint64");
	expect_u64_error("{\"memory\":-1}", "json: cannot unmarshal number -1 into Go struct field "
					    "Limits.memory of type uint64");
	expect_u64_error("{\"memory\":1.5}",
			 "json: cannot unmarshal number 1.5 into Go struct field "
			 "Limits.memory of type uint64");
	expect_u64_error("{\"memory\":1e3}",
			 "json: cannot unmarshal number 1e3 into Go struct field "
			 "Limits.memory of type uint64");
	expect_u64_error("{\"memory\":\"1\"}", "json: cannot unmarshal string into Go struct field "
					       "Limits.memory of type uint64");
	expect_u64_error("{\"memory\":true}", "json: cannot unmarshal bool into Go struct field "
					      "Limits.memory of type uint64");
	expect_u64_error("{\"memory\":{}}", "json: cannot unmarshal object into Go struct field "
					    "Limits.memory of type uint64");
}

static void test_narrow_and_signed(void)
{
	_cleanup_gojson_ struct gdn_gojson *v =
	    decode("{\"c\":65535,\"d\":65536,\"e\":4294967295,\"f\":4294967296,"
		   "\"g\":-9223372036854775808,\"h\":9223372036854775808}");
	_cleanup_err_ struct gdn_err *err = NULL;
	uint16_t u16 = 0;
	uint32_t u32 = 0;
	int64_t i64 = 0;

	CHECK_OK(gdn_gojson_get_u16(v, "W", "c", &u16, &err), err);
	CHECK_INTEQ(u16, 65535);
	CHECK(gdn_gojson_get_u16(v, "W", "d", &u16, &err) < 0);
	CHECK_STREQ(gdn_err_str(err),
		    "json: cannot unmarshal number 65536 into Go struct field W.d of type uint16");
	err = gdn_err_free(err);
	CHECK_OK(gdn_gojson_get_u32(v, "W", "e", &u32, &err), err);
	CHECK(u32 == UINT32_MAX);
	CHECK(gdn_gojson_get_u32(v, "W", "f", &u32, &err) < 0);
	err = gdn_err_free(err);
	CHECK_OK(gdn_gojson_get_i64(v, "W", "g", "int64", &i64, &err), err);
	CHECK(i64 == INT64_MIN);
	CHECK(gdn_gojson_get_i64(v, "W", "h", "time.Duration", &i64, &err) < 0);
	CHECK_STREQ(gdn_err_str(err), "json: cannot unmarshal number 9223372036854775808 into Go "
				      "struct field W.h of type time.Duration");
}

static void test_typed_getters(void)
{
	_cleanup_gojson_ struct gdn_gojson *v =
	    decode("{\"s\":\"x\",\"b\":true,\"o\":{},\"a\":[1],\"v\":[\"p\",\"q\"],\"n\":5,"
		   "\"bad\":[\"p\",3],\"nul\":\"a\\u0000\"}");
	_cleanup_err_ struct gdn_err *err = NULL;
	_cleanup_strv_ char **strv = NULL;
	const struct gdn_gojson *sub;
	const char *s;
	bool b = false;

	CHECK_OK(gdn_gojson_get_str(v, "T", "s", &s, &err), err);
	CHECK_STREQ(s, "x");
	CHECK_OK(gdn_gojson_get_str(v, "T", "absent", &s, &err), err);
	CHECK_STREQ(s, "");
	CHECK_OK(gdn_gojson_get_bool(v, "T", "b", &b, &err), err);
	CHECK(b);
	CHECK_OK(gdn_gojson_get_obj(v, "T", "o", "x.O", &sub, &err), err);
	CHECK(sub && sub->kind == GDN_GOJSON_OBJECT);
	CHECK_OK(gdn_gojson_get_arr(v, "T", "a", "[]int", &sub, &err), err);
	CHECK(sub && sub->n == 1);
	CHECK_OK(gdn_gojson_get_strv(v, "T", "v", &strv, &err), err);
	CHECK_STREQ(strv[0], "p");
	CHECK_STREQ(strv[1], "q");
	CHECK(strv[2] == NULL);
	gdn_strv_free(strv);
	CHECK_OK(gdn_gojson_get_strv(v, "T", "absent", &strv, &err), err);
	CHECK(strv && !strv[0]);
	gdn_strv_free(strv);
	strv = NULL;

	CHECK(gdn_gojson_get_str(v, "T", "n", &s, &err) < 0);
	CHECK_STREQ(gdn_err_str(err),
		    "json: cannot unmarshal number into Go struct field T.n of type string");
	err = gdn_err_free(err);
	CHECK(gdn_gojson_get_bool(v, "T", "s", &b, &err) < 0);
	CHECK_STREQ(gdn_err_str(err),
		    "json: cannot unmarshal string into Go struct field T.s of type bool");
	err = gdn_err_free(err);
	CHECK(gdn_gojson_get_obj(v, "T", "a", "x.O", &sub, &err) < 0);
	CHECK_STREQ(gdn_err_str(err),
		    "json: cannot unmarshal array into Go struct field T.a of type x.O");
	err = gdn_err_free(err);
	CHECK(gdn_gojson_get_strv(v, "T", "s", &strv, &err) < 0);
	CHECK_STREQ(gdn_err_str(err),
		    "json: cannot unmarshal string into Go struct field T.s of type []string");
	err = gdn_err_free(err);
	CHECK(gdn_gojson_get_strv(v, "T", "bad", &strv, &err) < 0);
	CHECK_STREQ(gdn_err_str(err),
		    "json: cannot unmarshal number into Go struct field T.bad of type string");
	err = gdn_err_free(err);
	CHECK(gdn_gojson_get_str(v, "T", "nul", &s, &err) == -EINVAL);
	CHECK(strstr(gdn_err_str(err), "NUL"));
	err = gdn_err_free(err);
	CHECK(gdn_gojson_value_err(&err, v, "garden.ContainerSpec") == -EINVAL);
	CHECK_STREQ(gdn_err_str(err),
		    "json: cannot unmarshal object into Go value of type garden.ContainerSpec");
}

static void test_json_u64_round_trip(void)
{
	static const uint64_t values[] = {0, 1, (uint64_t)INT64_MAX, (uint64_t)INT64_MAX + 1,
					  UINT64_MAX};
	json_auto_t *arr = json_array();
	_cleanup_free_ char *line = NULL;
	_cleanup_gojson_ struct gdn_gojson *back = NULL;

	for (size_t i = 0; i < GDN_ARRAY_SIZE(values); i++) {
		json_t *j = gdn_json_u64(values[i]);
		uint64_t u = 7;

		CHECK(j);
		CHECK(gdn_json_u64_value(j, &u) == 0 && u == values[i]);
		json_array_append_new(arr, j);
	}
	/* a string that looks like the stand-in stays a string */
	json_array_append_new(arr, json_string("{\"\\u0000gdn-u64\":\"5\"}"));
	line = gdn_json_line(arr, NULL);
	CHECK_STREQ(line, "[0,1,9223372036854775807,9223372036854775808,18446744073709551615,"
			  "\"{\\\"\\\\u0000gdn-u64\\\":\\\"5\\\"}\"]\n");
	back = decode(line);
	CHECK_INTEQ(back->n, 6);
	CHECK_STREQ(back->items[4]->text, "18446744073709551615");
	CHECK(back->items[5]->kind == GDN_GOJSON_STRING);
}

int main(void)
{
	static const struct tap_test tests[] = {
	    TEST(test_empty_body_is_eof),
	    TEST(test_syntax_errors_read_as_go),
	    TEST(test_max_depth),
	    TEST(test_one_value_then_stop),
	    TEST(test_strings_decode_like_go),
	    TEST(test_member_lookup_like_go),
	    TEST(test_uint64_full_range),
	    TEST(test_uint64_errors_read_as_go),
	    TEST(test_narrow_and_signed),
	    TEST(test_typed_getters),
	    TEST(test_json_u64_round_trip),
	};
	return tap_run(tests, GDN_ARRAY_SIZE(tests));
}
