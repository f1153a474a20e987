/* link: cmd/guardian/events.c */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include "lib/macro.h"
#include "lib/util.h"
#include "test/unit/tap.h"
#include "cmd/guardian/events.h"

/* cgroup v1 memory.oom_control and v2 memory.events, as kernel 6.x writes them */
static const char v1_file[] = "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n";
static const char v2_file[] = "low 0\nhigh 0\nmax 147\noom 3\noom_kill 3\noom_group_kill 0\n";

static void test_parse_both_formats(void)
{
	uint64_t n = 99;

	CHECK_INTEQ(gd_events_parse_oom_kill(v1_file, &n), 0);
	CHECK_INTEQ(n, 2);
	CHECK_INTEQ(gd_events_parse_oom_kill(v2_file, &n), 0);
	CHECK_INTEQ(n, 3);
	/* the last line without its newline, and a count that does not fit 32 bits */
	CHECK_INTEQ(gd_events_parse_oom_kill("oom 1\noom_kill 8589934592", &n), 0);
	CHECK_INTEQ(n, 8589934592ull);
}

static void test_parse_absent_or_bad(void)
{
	uint64_t n = 7;

	/* a kernel before 4.13: only the first two lines; the longer keys do not match */
	CHECK_INTEQ(gd_events_parse_oom_kill("oom_kill_disable 0\nunder_oom 1\n", &n), -ENOENT);
	CHECK_INTEQ(gd_events_parse_oom_kill("oom_group_kill 4\n", &n), -ENOENT);
	CHECK_INTEQ(gd_events_parse_oom_kill("", &n), -ENOENT);
	CHECK_INTEQ(gd_events_parse_oom_kill("oom_kill\n", &n), -ENOENT);
	CHECK_INTEQ(gd_events_parse_oom_kill("oom_kill \n", &n), -EINVAL);
	CHECK_INTEQ(gd_events_parse_oom_kill("oom_kill -1\n", &n), -EINVAL);
	CHECK_INTEQ(gd_events_parse_oom_kill("oom_kill 1 2\n", &n), -EINVAL);
	CHECK_INTEQ(gd_events_parse_oom_kill("oom_kill 99999999999999999999999\n", &n), -EINVAL);
	CHECK_INTEQ(n, 7);
}

static void test_new_kills(void)
{
	CHECK_INTEQ(gd_events_new_kills(0, 0), 0);
	CHECK_INTEQ(gd_events_new_kills(0, 1), 1);
	CHECK_INTEQ(gd_events_new_kills(2, 5), 3);
	CHECK_INTEQ(gd_events_new_kills(5, 5), 0);
	/* a new cgroup: its counter started again */
	CHECK_INTEQ(gd_events_new_kills(5, 2), 2);
}

static const char *events_of(json_t *props)
{
	json_t *v = json_object_get(props, GD_PROP_EVENTS);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static void test_append(void)
{
	json_auto_t *props = json_object();

	CHECK_INTEQ(gd_events_append(props, GD_EVENT_OOM, 0), 0);
	CHECK(events_of(props) == NULL);
	CHECK_INTEQ(gd_events_append(props, GD_EVENT_OOM, 1), 1);
	CHECK_STREQ(events_of(props), "Out of memory");
	/* Garden appends one entry per event, joined with "," */
	CHECK_INTEQ(gd_events_append(props, GD_EVENT_OOM, 2), 2);
	CHECK_STREQ(events_of(props), "Out of memory,Out of memory,Out of memory");
}

static void test_append_to_client_value(void)
{
	json_auto_t *props = json_pack("{s:s}", GD_PROP_EVENTS, "");

	/* as Garden: "" is already one (empty) event */
	CHECK_INTEQ(gd_events_append(props, GD_EVENT_OOM, 1), 1);
	CHECK_STREQ(events_of(props), ",Out of memory");
}

static void test_append_capped(void)
{
	json_auto_t *props = json_object();
	json_auto_t *list = NULL;

	CHECK_INTEQ(gd_events_append(props, GD_EVENT_OOM, UINT64_MAX), GD_EVENTS_MAX);
	list = gd_events_to_json(props);
	CHECK_INTEQ(json_array_size(list), GD_EVENTS_MAX);
	CHECK_INTEQ(gd_events_append(props, GD_EVENT_OOM, 1), 0);
	json_decref(list);
	list = gd_events_to_json(props);
	CHECK_INTEQ(json_array_size(list), GD_EVENTS_MAX);
}

/* Info's Events for rundmc.events = `value`, as compact JSON */
static void check_events(const char *value, const char *want)
{
	json_auto_t *props = json_pack("{s:s}", GD_PROP_EVENTS, value);
	json_auto_t *v = gd_events_to_json(props);
	_cleanup_free_ char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

	CHECK_STREQ(s, want);
}

static void test_to_json(void)
{
	json_auto_t *props = json_object();
	json_auto_t *v = gd_events_to_json(props);

	CHECK(json_is_null(v));
	check_events("Out of memory", "[\"Out of memory\"]");
	check_events("Out of memory,Out of memory", "[\"Out of memory\",\"Out of memory\"]");
	/* Go's strings.Split */
	check_events("", "[\"\"]");
	check_events("a,,b,", "[\"a\",\"\",\"b\",\"\"]");
	/* not a string: as absent */
	json_object_set_new(props, GD_PROP_EVENTS, json_integer(1));
	json_decref(v);
	v = gd_events_to_json(props);
	CHECK(json_is_null(v));
}

static void test_oom_kills_prop(void)
{
	json_auto_t *props = json_pack("{s:s}", "app", "x");

	CHECK_INTEQ(gd_events_take_oom_kills(props), 0);
	CHECK_INTEQ(gd_events_put_oom_kills(props, 0), 0);
	CHECK(json_object_get(props, GD_PROP_OOM_KILLS) == NULL);
	CHECK_INTEQ(gd_events_put_oom_kills(props, 18446744073709551615ull), 0);
	CHECK_STREQ(json_string_value(json_object_get(props, GD_PROP_OOM_KILLS)),
		    "18446744073709551615");
	CHECK_INTEQ(gd_events_take_oom_kills(props), UINT64_MAX);
	CHECK(json_object_get(props, GD_PROP_OOM_KILLS) == NULL);
	CHECK_INTEQ(json_object_size(props), 1);
	/* garbage counts as none, and is removed all the same */
	json_object_set_new(props, GD_PROP_OOM_KILLS, json_string("lots"));
	CHECK_INTEQ(gd_events_take_oom_kills(props), 0);
	CHECK(json_object_get(props, GD_PROP_OOM_KILLS) == NULL);
}

int main(void)
{
	static const struct tap_test tests[] = {
	    TEST(test_parse_both_formats),
	    TEST(test_parse_absent_or_bad),
	    TEST(test_new_kills),
	    TEST(test_append),
	    TEST(test_append_to_client_value),
	    TEST(test_append_capped),
	    TEST(test_to_json),
	    TEST(test_oom_kills_prop),
	};
	return tap_run(tests, GDN_ARRAY_SIZE(tests));
}
