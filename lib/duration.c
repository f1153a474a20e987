#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "lib/duration.h"

struct unit {
	const char *name;
	uint64_t ns;
};

static const struct unit units[] = {
    {"ns", 1ULL},
    {"us", 1000ULL},
    {"\xc2\xb5s", 1000ULL}, /* U+00B5 micro sign */
    {"\xce\xbcs", 1000ULL}, /* U+03BC greek mu */
    {"ms", 1000000ULL},
    {"s", 1000000000ULL},
    {"m", 60ULL * 1000000000ULL},
    {"h", 3600ULL * 1000000000ULL},
};

/* Longest unit name that prefixes s, so that "ms" wins over "m". */
static const struct unit *match_unit(const char *s, size_t *ret_len)
{
	const struct unit *best = NULL;
	size_t best_len = 0;

	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		size_t n = strlen(units[i].name);
		if (n > best_len && strncmp(s, units[i].name, n) == 0) {
			best = &units[i];
			best_len = n;
		}
	}
	*ret_len = best_len;
	return best;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

int gdn_parse_duration(const char *s, int64_t *ret_ns)
{
	bool neg = false;
	uint64_t total = 0;

	if (!s || !*s)
		return -EINVAL;
	if (*s == '+' || *s == '-') {
		neg = *s == '-';
		s++;
	}
	if (strcmp(s, "0") == 0) {
		*ret_ns = 0;
		return 0;
	}
	if (!*s)
		return -EINVAL;

	while (*s) {
		uint64_t whole = 0, frac = 0, scale = 1, frac_ns;
		bool digits = false;
		const struct unit *u;
		size_t ulen;

		while (is_digit(*s)) {
			if (whole > (UINT64_MAX - 9) / 10)
				return -ERANGE;
			whole = whole * 10 + (uint64_t)(*s - '0');
			digits = true;
			s++;
		}
		if (*s == '.') {
			s++;
			while (is_digit(*s)) {
				/* Digits past nanosecond precision of an hour cannot matter. */
				if (scale < 10000000000000ULL) {
					frac = frac * 10 + (uint64_t)(*s - '0');
					scale *= 10;
				}
				digits = true;
				s++;
			}
		}
		if (!digits)
			return -EINVAL;
		u = match_unit(s, &ulen);
		if (!u)
			return -EINVAL;
		s += ulen;
		if (whole > UINT64_MAX / u->ns)
			return -ERANGE;
		whole *= u->ns;
		/* frac/scale of a unit, rounded down to whole nanoseconds. */
		frac_ns = (uint64_t)((long double)frac * (long double)u->ns / (long double)scale);
		if (whole > UINT64_MAX - frac_ns)
			return -ERANGE;
		whole += frac_ns;
		if (total > UINT64_MAX - whole)
			return -ERANGE;
		total += whole;
	}
	if (total > (uint64_t)INT64_MAX + (neg ? 1 : 0))
		return -ERANGE;
	*ret_ns = neg ? (int64_t)(0 - total) : (int64_t)total;
	return 0;
}
