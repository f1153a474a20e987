#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include "lib/log.h"
#include "lib/util.h"
#include "test/unit/tap.h"

static int cap_r = -1;

/* Points the logger at a pipe whose read end is cap_r. */
static void capture(const char *source, enum gdn_log_level level)
{
	int p[2];

	CHECK(pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0);
	cap_r = p[0];
	gdn_log_init(source, level, p[1]);
}

/* The next captured line (without '\n'), or NULL if none. Caller frees. */
static char *next_line(void)
{
	static char buf[65536];
	static size_t len;
	char *nl, *s;
	ssize_t n;

	n = read(cap_r, buf + len, sizeof(buf) - len - 1);
	if (n > 0)
		len += (size_t)n;
	nl = memchr(buf, '\n', len);
	if (!nl)
		return NULL;
	s = strndup(buf, (size_t)(nl - buf));
	memmove(buf, nl + 1, len - (size_t)(nl - buf) - 1);
	len -= (size_t)(nl - buf) + 1;
	return s;
}

static json_t *next_json(void)
{
	char *s = next_line();
	json_t *v;

	if (!s)
		return NULL;
	v = json_loads(s, 0, NULL);
	free(s);
	return v;
}

/* Checks the object's keys, in order, against a NULL-terminated list. */
static void check_keys(json_t *o, const char *const *keys)
{
	void *it = json_object_iter(o);
	size_t i = 0;

	for (; it; it = json_object_iter_next(o, it), i++) {
		CHECK(keys[i] != NULL);
		CHECK_STREQ(json_object_iter_key(it), keys[i]);
	}
	CHECK(keys[i] == NULL);
}

static const char *str(json_t *o, const char *path1, const char *path2)
{
	json_t *v = json_object_get(o, path1);

	if (path2)
		v = json_object_get(v, path2);
	return json_string_value(v);
}

static void test_line_format(void)
{
	static const char *const top[] = {"timestamp", "level", "source", "message", "data", NULL};
	static const char *const data[] = {"handle", NULL};
	json_auto_t *v = NULL;
	const char *ts;
	char *raw;

	capture("guardian", GDN_LOG_DEBUG);
	gdn_log_info(gdn_log_root(), "started", "handle", "h1", NULL);
	raw = next_line();
	CHECK(raw != NULL);
	CHECK(strncmp(raw, "{\"timestamp\":\"", 14) == 0);
	CHECK(strchr(raw, '\n') == NULL);
	v = json_loads(raw, 0, NULL);
	free(raw);
	CHECK(v != NULL);
	check_keys(v, top);
	check_keys(json_object_get(v, "data"), data);
	CHECK_STREQ(str(v, "level", NULL), "info");
	CHECK_STREQ(str(v, "source", NULL), "guardian");
	CHECK_STREQ(str(v, "message", NULL), "guardian.started");
	CHECK_STREQ(str(v, "data", "handle"), "h1");
	ts = str(v, "timestamp", NULL);
	CHECK(ts != NULL);
	CHECK_INTEQ(strlen(ts), 30);
	CHECK(ts[4] == '-' && ts[7] == '-' && ts[10] == 'T' && ts[13] == ':' && ts[16] == ':');
	CHECK(ts[19] == '.' && ts[29] == 'Z');
	for (int i = 20; i < 29; i++)
		CHECK(ts[i] >= '0' && ts[i] <= '9');
}

static void test_sessions_nest(void)
{
	static const char *const keys[] = {"session", "handle", "extra", NULL};
	_cleanup_log_ struct gdn_log *a = NULL, *b = NULL, *c = NULL, *d = NULL;
	json_auto_t *l1 = NULL, *l2 = NULL, *l3 = NULL;

	capture("guardian", GDN_LOG_INFO);
	a = gdn_log_session(gdn_log_root(), "create", "handle", "h1", NULL);
	b = gdn_log_session(a, "volume", NULL);
	c = gdn_log_session(a, "net", NULL);
	d = gdn_log_session(NULL, "other", NULL);
	CHECK(a && b && c && d);
	gdn_log_info(a, "started", NULL);
	gdn_log_info(b, "mounted", "extra", "x", NULL);
	gdn_log_info(d, "tick", NULL);
	l1 = next_json();
	l2 = next_json();
	l3 = next_json();
	CHECK(l1 && l2 && l3);
	CHECK_STREQ(str(l1, "message", NULL), "guardian.create.started");
	CHECK_STREQ(str(l1, "data", "session"), "1");
	CHECK_STREQ(str(l1, "data", "handle"), "h1");
	CHECK_STREQ(str(l2, "message", NULL), "guardian.create.volume.mounted");
	CHECK_STREQ(str(l2, "data", "session"), "1.1");
	check_keys(json_object_get(l2, "data"), keys);
	CHECK_STREQ(str(l3, "message", NULL), "guardian.other.tick");
	CHECK_STREQ(str(l3, "data", "session"), "2");
	/* the second child of session 1 */
	gdn_log_info(c, "x", NULL);
	{
		json_auto_t *l4 = next_json();

		CHECK_STREQ(str(l4, "data", "session"), "1.2");
	}
}

static void test_level_filter(void)
{
	json_auto_t *v = NULL;

	capture("kawasaki", GDN_LOG_ERROR);
	gdn_log_debug(NULL, "dropped", NULL);
	gdn_log_info(NULL, "dropped", NULL);
	gdn_log_error(NULL, "kept", NULL, NULL);
	gdn_log_fatal(NULL, "kept2", NULL, NULL);
	v = next_json();
	CHECK_STREQ(str(v, "message", NULL), "kawasaki.kept");
	CHECK_STREQ(str(v, "level", NULL), "error");
	CHECK(json_object_size(json_object_get(v, "data")) == 0);
	json_decref(v);
	v = next_json();
	CHECK_STREQ(str(v, "level", NULL), "fatal");
	CHECK(next_line() == NULL);
}

static void test_debug_level(void)
{
	json_auto_t *v = NULL;

	capture("gdn", GDN_LOG_DEBUG);
	gdn_log_debug(NULL, "d", NULL);
	v = next_json();
	CHECK_STREQ(str(v, "level", NULL), "debug");
}

static void test_error_data(void)
{
	static const char *const keys[] = {"session", "handle", "path", "error", NULL};
	_cleanup_log_ struct gdn_log *l = NULL;
	_cleanup_err_ struct gdn_err *err = NULL;
	json_auto_t *v = NULL;

	capture("guardian", GDN_LOG_INFO);
	l = gdn_log_session(NULL, "destroy", "handle", "h2", NULL);
	gdn_err_set(&err, ENOENT, "open '%s'", "/x");
	gdn_log_error(l, "failed", err, "path", "/x", NULL);
	v = next_json();
	CHECK(v != NULL);
	check_keys(json_object_get(v, "data"), keys);
	CHECK_STREQ(str(v, "data", "error"), "open '/x': No such file or directory");
	CHECK_STREQ(str(v, "level", NULL), "error");
}

static void test_escaping_one_line(void)
{
	json_auto_t *v = NULL;

	capture("gdn", GDN_LOG_INFO);
	gdn_log_info(NULL, "weird", "k", "line1\nline2\t\"q\"", NULL);
	v = next_json();
	CHECK(v != NULL);
	CHECK_STREQ(str(v, "data", "k"), "line1\nline2\t\"q\"");
	CHECK(next_line() == NULL);
}

static void test_parse_level(void)
{
	enum gdn_log_level l = GDN_LOG_INFO;

	CHECK_INTEQ(gdn_log_parse_level("debug", &l), 0);
	CHECK_INTEQ(l, GDN_LOG_DEBUG);
	CHECK_INTEQ(gdn_log_parse_level("fatal", &l), 0);
	CHECK_INTEQ(l, GDN_LOG_FATAL);
	CHECK_INTEQ(gdn_log_parse_level("warn", &l), -EINVAL);
	CHECK_INTEQ(gdn_log_parse_level("INFO", &l), -EINVAL);
	CHECK_INTEQ(gdn_log_parse_level(NULL, &l), -EINVAL);
}

static void test_root_not_freed(void)
{
	CHECK(gdn_log_free(gdn_log_root()) == NULL);
	CHECK(gdn_log_free(NULL) == NULL);
	capture("gdn", GDN_LOG_INFO);
	gdn_log_info(gdn_log_root(), "still", NULL);
	{
		json_auto_t *v = next_json();

		CHECK_STREQ(str(v, "message", NULL), "gdn.still");
	}
}

static void test_format_duration(void)
{
	char d[GDN_LOG_DURATION_MAX];

	CHECK_STREQ(gdn_log_format_duration(1000, 1000, d), "0");
	CHECK_STREQ(gdn_log_format_duration(5, 1234567894, d), "1234567889");
	/* a start after the end (not monotonic) is no negative number */
	CHECK_STREQ(gdn_log_format_duration(7, 3, d), "0");
	CHECK_STREQ(gdn_log_format_duration(0, UINT64_MAX, d), "18446744073709551615");
	CHECK_INTEQ(strlen(d) + 1, GDN_LOG_DURATION_MAX);
}

static void test_duration_monotonic(void)
{
	struct timespec nap = {0, 2000000};
	char d[GDN_LOG_DURATION_MAX];
	uint64_t start = gdn_log_clock(), ns = 0;
	json_auto_t *v = NULL;
	const char *got;

	CHECK(start > 0);
	CHECK(nanosleep(&nap, NULL) == 0);
	capture("guardian", GDN_LOG_INFO);
	gdn_log_info(NULL, "create.created", "handle", "h1", GDN_LOG_DURATION,
		     gdn_log_duration(start, d), NULL);
	v = next_json();
	CHECK_STREQ(GDN_LOG_DURATION, "duration");
	got = str(v, "data", "duration");
	CHECK(got != NULL);
	CHECK_INTEQ(gdn_parse_u64(got, &ns), 0);
	CHECK(ns >= 2000000);	    /* slept 2 ms */
	CHECK(ns < 60000000000ull); /* and surely less than a minute */
	CHECK(gdn_log_clock() >= start);
}

static void test_session_started(void)
{
	_cleanup_log_ struct gdn_log *l = NULL;
	uint64_t before, after;

	capture("guardian", GDN_LOG_INFO);
	CHECK(gdn_log_started(NULL) == gdn_log_started(gdn_log_root()));
	CHECK(gdn_log_started(NULL) <= gdn_log_clock());
	before = gdn_log_clock();
	l = gdn_log_session(NULL, "create", NULL);
	after = gdn_log_clock();
	CHECK(l != NULL);
	CHECK(gdn_log_started(l) >= before && gdn_log_started(l) <= after);
}

static void test_set(void)
{
	static const char *const keys[] = {"session", "handle", "duration", NULL};
	_cleanup_log_ struct gdn_log *l = NULL, *child = NULL;
	json_auto_t *v = NULL, *w = NULL;

	capture("guardian", GDN_LOG_INFO);
	l = gdn_log_session(NULL, "create", "handle", "", NULL);
	CHECK(l != NULL);
	gdn_log_set(l, "handle", "h9");
	gdn_log_set(l, GDN_LOG_DURATION, "42");
	child = gdn_log_session(l, "volume", NULL);
	gdn_log_error(l, "failed", NULL, NULL);
	v = next_json();
	CHECK_STREQ(str(v, "message", NULL), "guardian.create.failed");
	check_keys(json_object_get(v, "data"), keys);
	CHECK_STREQ(str(v, "data", "handle"), "h9");
	CHECK_STREQ(str(v, "data", "duration"), "42");
	/* a session made after the set inherits it */
	gdn_log_info(child, "made", NULL);
	w = next_json();
	CHECK_STREQ(str(w, "data", "handle"), "h9");
	/* the root has no session data to change */
	gdn_log_set(gdn_log_root(), "handle", "x");
	gdn_log_set(NULL, "handle", "x");
	gdn_log_info(NULL, "plain", NULL);
	{
		json_auto_t *r = next_json();

		CHECK(json_object_size(json_object_get(r, "data")) == 0);
	}
}

int main(void)
{
	static const struct tap_test tests[] = {
	    TEST(test_line_format),	   TEST(test_sessions_nest),   TEST(test_level_filter),
	    TEST(test_debug_level),	   TEST(test_error_data),      TEST(test_escaping_one_line),
	    TEST(test_parse_level),	   TEST(test_root_not_freed),  TEST(test_format_duration),
	    TEST(test_duration_monotonic), TEST(test_session_started), TEST(test_set),
	};
	return tap_run(tests, GDN_ARRAY_SIZE(tests));
}
