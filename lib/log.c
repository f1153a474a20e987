/* lager-compatible JSON lines: see log.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bsd/string.h>
#include <jansson.h>
#include "lib/log.h"
#include "lib/util.h"

struct gdn_log {
	char *prefix;	   /* message prefix; NULL for the root (uses the source) */
	char *session;	   /* "3", "3.1"; NULL for the root */
	json_t *data;	   /* the session's key/values (without "session"); NULL for the root */
	unsigned children; /* sessions handed out under this one */
	uint64_t started;  /* gdn_log_clock() when it was made */
};

static struct {
	char source[128];
	enum gdn_log_level level;
	int fd;
} sink = {"gdn", GDN_LOG_INFO, 2};

static struct gdn_log root;

void gdn_log_init(const char *source, enum gdn_log_level level, int fd)
{
	root.started = gdn_log_clock();
	if (source)
		strlcpy(sink.source, source, sizeof(sink.source));
	sink.level = level;
	sink.fd = fd;
}

int gdn_log_parse_level(const char *s, enum gdn_log_level *ret_level)
{
	static const char *const names[] = {"debug", "info", "error", "fatal"};

	for (size_t i = 0; s && i < GDN_ARRAY_SIZE(names); i++) {
		if (strcmp(s, names[i]) == 0) {
			*ret_level = (enum gdn_log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

struct gdn_log *gdn_log_root(void)
{
	return &root;
}

static const char *prefix_of(const struct gdn_log *l)
{
	return l->prefix ? l->prefix : sink.source;
}

/* Adds NULL-terminated key/value pairs to obj. A NULL value ends the list (stored as null). */
static void add_pairs(json_t *obj, va_list ap)
{
	for (;;) {
		const char *k = va_arg(ap, const char *);
		const char *v;

		if (!k)
			return;
		v = va_arg(ap, const char *);
		(void)json_object_set_new(obj, k, v ? json_string(v) : json_null());
		if (!v)
			return;
	}
}

struct gdn_log *gdn_log_session(struct gdn_log *parent, const char *task, ...)
{
	struct gdn_log *l;
	unsigned id;
	va_list ap;
	int r;

	if (!parent)
		parent = &root;
	l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->started = gdn_log_clock();
	id = ++parent->children;
	if (parent->session)
		r = asprintf(&l->session, "%s.%u", parent->session, id);
	else
		r = asprintf(&l->session, "%u", id);
	if (r < 0) {
		l->session = NULL;
		return gdn_log_free(l);
	}
	if (asprintf(&l->prefix, "%s.%s", prefix_of(parent), task ? task : "") < 0) {
		l->prefix = NULL;
		return gdn_log_free(l);
	}
	l->data = parent->data ? json_deep_copy(parent->data) : json_object();
	if (!l->data)
		return gdn_log_free(l);
	va_start(ap, task);
	add_pairs(l->data, ap);
	va_end(ap);
	return l;
}

struct gdn_log *gdn_log_free(struct gdn_log *l)
{
	if (!l || l == &root)
		return NULL;
	free(l->prefix);
	free(l->session);
	json_decref(l->data);
	free(l);
	return NULL;
}

void gdn_log_set(struct gdn_log *l, const char *key, const char *value)
{
	if (!l || !l->data || !key)
		return;
	(void)json_object_set_new(l->data, key, value ? json_string(value) : json_null());
}

uint64_t gdn_log_clock(void)
{
	return gdn_now_mono_ns();
}

uint64_t gdn_log_started(const struct gdn_log *l)
{
	return (l ? l : &root)->started;
}

const char *gdn_log_format_duration(uint64_t start_ns, uint64_t end_ns,
				    char buf[GDN_LOG_DURATION_MAX])
{
	(void)snprintf(buf, GDN_LOG_DURATION_MAX, "%llu",
		       end_ns > start_ns ? (unsigned long long)(end_ns - start_ns) : 0ull);
	return buf;
}

const char *gdn_log_duration(uint64_t start_ns, char buf[GDN_LOG_DURATION_MAX])
{
	return gdn_log_format_duration(start_ns, gdn_log_clock(), buf);
}

const char *gdn_log_level_name(enum gdn_log_level level)
{
	switch (level) {
	case GDN_LOG_DEBUG:
		return "debug";
	case GDN_LOG_INFO:
		return "info";
	case GDN_LOG_ERROR:
		return "error";
	case GDN_LOG_FATAL:
		return "fatal";
	}
	return "info";
}

static void timestamp(char *out, size_t n)
{
	struct timespec ts;
	struct tm tm;
	char base[32];

	if (clock_gettime(CLOCK_REALTIME, &ts) < 0 || !gmtime_r(&ts.tv_sec, &tm) ||
	    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
		strlcpy(out, "1970-01-01T00:00:00.000000000Z", n);
		return;
	}
	(void)snprintf(out, n, "%s.%09ldZ", base, ts.tv_nsec);
}

static void emit(struct gdn_log *l, enum gdn_log_level level, const char *action,
		 const struct gdn_err *err, const json_t *extra, va_list ap)
{
	json_auto_t *line = NULL;
	json_t *data;
	char ts[64], *msg = NULL, *s;
	size_t n;

	if (level < sink.level || sink.fd < 0)
		return;
	if (!l)
		l = &root;
	timestamp(ts, sizeof(ts));
	if (asprintf(&msg, "%s.%s", prefix_of(l), action ? action : "") < 0)
		return;
	line = json_object();
	data = json_object();
	if (!line || !data) {
		json_decref(data);
		free(msg);
		return;
	}
	(void)json_object_set_new(line, "timestamp", json_string(ts));
	(void)json_object_set_new(line, "level", json_string(gdn_log_level_name(level)));
	(void)json_object_set_new(line, "source", json_string(sink.source));
	(void)json_object_set_new(line, "message", json_string(msg));
	free(msg);
	if (l->session)
		(void)json_object_set_new(data, "session", json_string(l->session));
	if (l->data)
		(void)json_object_update(data, l->data);
	if (extra)
		(void)json_object_update(data, (json_t *)extra);
	else
		add_pairs(data, ap);
	if (err)
		(void)json_object_set_new(data, "error", json_string(gdn_err_str(err)));
	(void)json_object_set_new(line, "data", data);

	s = json_dumps(line, JSON_COMPACT);
	if (!s)
		return;
	n = strlen(s);
	{
		_cleanup_free_ char *out = realloc(s, n + 1 + 1);
		ssize_t w;

		if (!out) {
			free(s);
			return;
		}
		out[n] = '\n';
		out[n + 1] = '\0';
		do
			w = write(sink.fd, out, n + 1);
		while (w < 0 && errno == EINTR);
	}
}

void gdn_log_debug(struct gdn_log *l, const char *action, ...)
{
	va_list ap;

	va_start(ap, action);
	emit(l, GDN_LOG_DEBUG, action, NULL, NULL, ap);
	va_end(ap);
}

void gdn_log_info(struct gdn_log *l, const char *action, ...)
{
	va_list ap;

	va_start(ap, action);
	emit(l, GDN_LOG_INFO, action, NULL, NULL, ap);
	va_end(ap);
}

void gdn_log_error(struct gdn_log *l, const char *action, const struct gdn_err *err, ...)
{
	va_list ap;

	va_start(ap, err);
	emit(l, GDN_LOG_ERROR, action, err, NULL, ap);
	va_end(ap);
}

void gdn_log_fatal(struct gdn_log *l, const char *action, const struct gdn_err *err, ...)
{
	va_list ap;

	va_start(ap, err);
	emit(l, GDN_LOG_FATAL, action, err, NULL, ap);
	va_end(ap);
}

static void emit_json(struct gdn_log *l, enum gdn_log_level level, const char *action,
		      const json_t *data, ...)
{
	va_list ap;

	va_start(ap, data);
	emit(l, level, action, NULL, data, ap);
	va_end(ap);
}

void gdn_log_json(struct gdn_log *l, enum gdn_log_level level, const char *action,
		  const json_t *data)
{
	json_auto_t *empty = data ? NULL : json_object();

	emit_json(l, level, action, data ? data : empty, NULL);
}
