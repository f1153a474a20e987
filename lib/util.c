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
