/* Go time.Duration text ("1h30m", "500ms", "0", "-1.5s"), as gdn's flags and gaol take it. */
#pragma once

#include <stdint.h>

/* Parses a Go duration into nanoseconds. Accepts units ns, us, µs, ms, s, m, h, decimal
 * fractions, a leading sign, and a bare "0". Returns 0, or -EINVAL / -ERANGE. */
int gdn_parse_duration(const char *s, int64_t *ret_ns);
