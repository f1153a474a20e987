#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/macro.h"
#include "lib/util.h"
#include "cmd/guardian/events.h"

#define OOM_KILL_KEY "oom_kill"

int gd_events_parse_oom_kill(const char *text, uint64_t *ret)
{
	const size_t klen = strlen(OOM_KILL_KEY);

	for (const char *line = text; line && *line;) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);

		/* the key must be whole: "oom_kill_disable" (v1) and "oom_group_kill" (v2) are
		 * other counters */
		if (len > klen && strncmp(line, OOM_KILL_KEY, klen) == 0 && line[klen] == ' ') {
			char num[24];
			size_t vlen = len - klen - 1;

			if (vlen == 0 || vlen >= sizeof(num))
				return -EINVAL;
			memcpy(num, line + klen + 1, vlen);
			num[vlen] = '\0';
			return gdn_parse_u64(num, ret) < 0 ? -EINVAL : 0;
		}
		line = nl ? nl + 1 : NULL;
	}
	return -ENOENT;
}

uint64_t gd_events_new_kills(uint64_t recorded, uint64_t now)
{
	return now >= recorded ? now - recorded : now;
}

static size_t count_events(const char *joined)
{
	size_t n = 1;

	for (const char *p = joined; (p = strchr(p, ',')); p++)
		n++;
	return n;
}

int gd_events_append(json_t *props, const char *event, uint64_t n)
{
	json_t *v = json_object_get(props, GD_PROP_EVENTS);
	const char *have = json_is_string(v) ? json_string_value(v) : NULL;
	size_t count = have ? count_events(have) : 0;
	size_t room = count < GD_EVENTS_MAX ? GD_EVENTS_MAX - count : 0;
	size_t add = n < room ? (size_t)n : room;
	size_t elen = strlen(event), hlen = have ? strlen(have) : 0;
	_cleanup_free_ char *out = NULL;
	char *p;

	if (add == 0)
		return 0;
	out = malloc(hlen + add * (elen + 1) + 1);
	if (!out)
		return -ENOMEM;
	p = out;
	if (have) {
		memcpy(p, have, hlen);
		p += hlen;
	}
	for (size_t i = 0; i < add; i++) {
		/* after any existing value, "" included (one empty event, as in Garden) */
		if (have || i > 0)
			*p++ = ',';
		memcpy(p, event, elen);
		p += elen;
	}
	*p = '\0';
	if (json_object_set_new(props, GD_PROP_EVENTS, json_string(out)) < 0)
		return -ENOMEM;
	return (int)add;
}

json_t *gd_events_to_json(json_t *props)
{
	json_t *v = json_object_get(props, GD_PROP_EVENTS);
	json_t *out;

	if (!json_is_string(v))
		return json_null();
	out = json_array();
	/* as Go's strings.Split: "" is one empty event, "a,,b" three */
	for (const char *p = json_string_value(v); out;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);

		if (json_array_append_new(out, json_stringn(p, len)) < 0) {
			json_decref(out);
			return NULL;
		}
		if (!comma)
			break;
		p = comma + 1;
	}
	return out;
}

uint64_t gd_events_take_oom_kills(json_t *props)
{
	json_t *v = json_object_get(props, GD_PROP_OOM_KILLS);
	uint64_t n = 0;

	if (json_is_string(v) && gdn_parse_u64(json_string_value(v), &n) < 0)
		n = 0;
	(void)json_object_del(props, GD_PROP_OOM_KILLS);
	return n;
}

int gd_events_put_oom_kills(json_t *props, uint64_t n)
{
	char text[24];

	if (n == 0) {
		(void)json_object_del(props, GD_PROP_OOM_KILLS);
		return 0;
	}
	(void)snprintf(text, sizeof(text), "%" PRIu64, n);
	return json_object_set_new(props, GD_PROP_OOM_KILLS, json_string(text)) < 0 ? -ENOMEM : 0;
}
