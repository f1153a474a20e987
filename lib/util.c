/* Numbers, UUIDs, time and JSON helpers: see util.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>
#include "lib/util.h"

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

int gdn_parse_u64(const char *s, uint64_t *ret)
{
	uint64_t v = 0;

	if (!s || !is_digit(*s))
		return -EINVAL;
	for (; *s; s++) {
		unsigned d;

		if (!is_digit(*s))
			return -EINVAL;
		d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*ret = v;
	return 0;
}

int gdn_parse_i64(const char *s, int64_t *ret)
{
	bool neg = false;
	uint64_t v;
	int r;

	if (!s)
		return -EINVAL;
	if (*s == '-' || *s == '+') {
		neg = *s == '-';
		s++;
	}
	r = gdn_parse_u64(s, &v);
	if (r < 0)
		return r;
	if (neg) {
		if (v > (uint64_t)INT64_MAX + 1)
			return -ERANGE;
		*ret = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
	} else {
		if (v > (uint64_t)INT64_MAX)
			return -ERANGE;
		*ret = (int64_t)v;
	}
	return 0;
}

int gdn_parse_u32(const char *s, uint32_t *ret)
{
	uint64_t v;
	int r = gdn_parse_u64(s, &v);

	if (r < 0)
		return r;
	if (v > UINT32_MAX)
		return -ERANGE;
	*ret = (uint32_t)v;
	return 0;
}

void gdn_uuid_v4(char out[37])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[16];
	size_t got = 0, o = 0;

	while (got < sizeof(b)) {
		ssize_t n = getrandom(b + got, sizeof(b) - got, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* getrandom cannot fail on supported kernels; degrade rather than crash */
			uint64_t t = gdn_now_real_ns() ^ ((uint64_t)getpid() << 32);

			for (; got < sizeof(b); got++) {
				t ^= t << 13;
				t ^= t >> 7;
				t ^= t << 17;
				b[got] = (unsigned char)t;
			}
			break;
		}
		got += (size_t)n;
	}
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	for (size_t i = 0; i < sizeof(b); i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[b[i] >> 4];
		out[o++] = hex[b[i] & 0xf];
	}
	out[o] = '\0';
}

static uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;

	if (clock_gettime(clk, &ts) < 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

uint64_t gdn_now_mono_ns(void)
{
	return now_ns(CLOCK_MONOTONIC);
}

uint64_t gdn_now_real_ns(void)
{
	return now_ns(CLOCK_REALTIME);
}

json_t *gdn_json_get(const json_t *obj, const char *key)
{
	json_t *o = (json_t *)obj; /* jansson's iteration API is not const-correct */
	const char *k;
	json_t *v;

	if (!json_is_object(o) || !key)
		return NULL;
	v = json_object_get(o, key);
	if (v)
		return v;
	json_object_foreach (o, k, v) {
		if (strcasecmp(k, key) == 0)
			return v;
	}
	return NULL;
}

/* A uint64 above INT64_MAX (jansson's integers are int64) travels as an object whose only key
 * starts with NUL. No decoded document can hold such a key (jansson refuses NUL in keys), and in
 * compact output the object prints as U64_OPEN digits U64_CLOSE, which gdn_json_line replaces
 * by the digits: a string value cannot contain U64_OPEN, since every '"' in it is escaped. */
#define U64_KEY "\0gdn-u64"
#define U64_OPEN "{\"\\u0000gdn-u64\":\""
#define U64_CLOSE "\"}"

json_t *gdn_json_u64(uint64_t v)
{
	char digits[24];

	if (v <= (uint64_t)INT64_MAX)
		return json_integer((json_int_t)v);
	(void)snprintf(digits, sizeof(digits), "%" PRIu64, v);
	json_t *o = json_object();
	if (!o || json_object_setn_new(o, U64_KEY, sizeof(U64_KEY) - 1, json_string(digits)) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int gdn_json_u64_value(const json_t *v, uint64_t *ret)
{
	json_t *d;

	if (json_is_integer(v)) {
		if (json_integer_value(v) < 0)
			return -ERANGE;
		*ret = (uint64_t)json_integer_value(v);
		return 0;
	}
	d = json_object_getn(v, U64_KEY, sizeof(U64_KEY) - 1);
	if (!json_is_string(d) || json_object_size(v) != 1)
		return -EINVAL;
	return gdn_parse_u64(json_string_value(d), ret);
}

/* Replaces each U64_OPEN digits U64_CLOSE in s (length n) by the digits; returns the new length. */
static size_t unwrap_u64(char *s, size_t n)
{
	const size_t lo = sizeof(U64_OPEN) - 1, lc = sizeof(U64_CLOSE) - 1;
	char *w = s, *r = s, *end = s + n, *m;

	while ((m = memmem(r, (size_t)(end - r), U64_OPEN, lo))) {
		char *d = m + lo, *e = d;

		while (e < end && is_digit(*e))
			e++;
		if (e == d || (size_t)(end - e) < lc || memcmp(e, U64_CLOSE, lc) != 0) {
			/* not ours (cannot happen): keep it as it is */
			memmove(w, r, (size_t)(d - r));
			w += d - r;
			r = d;
			continue;
		}
		memmove(w, r, (size_t)(m - r));
		w += m - r;
		memmove(w, d, (size_t)(e - d));
		w += e - d;
		r = e + lc;
	}
	memmove(w, r, (size_t)(end - r));
	w += end - r;
	*w = '\0';
	return (size_t)(w - s);
}

char *gdn_json_line(const json_t *v, size_t *ret_len)
{
	char *s, *line;
	size_t n;

	if (!v)
		return NULL;
	s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	if (!s)
		return NULL;
	n = strlen(s);
	if (strstr(s, U64_OPEN))
		n = unwrap_u64(s, n);
	line = realloc(s, n + 2);
	if (!line) {
		free(s);
		return NULL;
	}
	line[n] = '\n';
	line[n + 1] = '\0';
	if (ret_len)
		*ret_len = n + 1;
	return line;
}

int gdn_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

char *gdn_str_trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r' || end[-1] == '\n'))
		*--end = '\0';
	return s;
}
