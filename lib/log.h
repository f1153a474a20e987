/* lager-compatible JSON lines on a file descriptor (stderr by default):
 * {"timestamp":"2026-11-28T09:50:01.123456789Z","level":"info","source":"guardian",
 *  "message":"guardian.create.started","data":{"handle":"h1","session":"3"}}
 * Each line is emitted with a single write(2). */
#pragma once

#include <stdint.h>
#include "lib/err.h"

enum gdn_log_level {
	GDN_LOG_DEBUG = 0,
	GDN_LOG_INFO,
	GDN_LOG_ERROR,
	GDN_LOG_FATAL,
};

struct gdn_log;

/* Configures the process-wide sink. `source` is also the root message prefix. */
void gdn_log_init(const char *source, enum gdn_log_level level, int fd);
/* "debug" | "info" | "error" | "fatal" -> level; -EINVAL otherwise. */
int gdn_log_parse_level(const char *s, enum gdn_log_level *ret_level);
/* The level's name, as --log-level takes it (for a child's command line). */
const char *gdn_log_level_name(enum gdn_log_level level);

/* The root logger (message prefix = source, no session). Never NULL; do not free. */
struct gdn_log *gdn_log_root(void);

/* A child logger: message prefix "<parent prefix>.<task>", a new session id ("3", or "3.1" under
 * a parent with a session), and extra data given as NULL-terminated key/value string pairs which
 * every line of the session carries. Free with gdn_log_free (NULL-safe, returns NULL). */
struct gdn_log *gdn_log_session(struct gdn_log *parent, const char *task, ...)
    __attribute__((sentinel));
struct gdn_log *gdn_log_free(struct gdn_log *l);
static inline void gdn_log_freep(struct gdn_log **l)
{
	gdn_log_free(*l);
}
#define _cleanup_log_ _cleanup_(gdn_log_freep)

/* Adds key = value (a string; NULL: null) to the session's data, or replaces it: every later line
 * of l and of the sessions made under it from now on carries it. Not for the root (a no-op). */
void gdn_log_set(struct gdn_log *l, const char *key, const char *value);

/* How long an operation took, as lager logs it (lager.Data{"duration": time.Since(start)}: Go's
 * time.Duration, in nanoseconds), a decimal string like every data value here:
 *   char d[GDN_LOG_DURATION_MAX];
 *   gdn_log_info(l, "created", GDN_LOG_DURATION, gdn_log_duration(start, d), NULL);
 * Times are CLOCK_MONOTONIC nanoseconds (gdn_log_clock), so a clock step does not skew them. */
#define GDN_LOG_DURATION "duration"
#define GDN_LOG_DURATION_MAX 21 /* UINT64_MAX's 20 digits and a NUL */
uint64_t gdn_log_clock(void);
/* When the session was made (gdn_log_clock); for the root (or NULL), when gdn_log_init ran. */
uint64_t gdn_log_started(const struct gdn_log *l);
/* end - start in buf ("0" if end is before start); returns buf. */
const char *gdn_log_format_duration(uint64_t start_ns, uint64_t end_ns,
				    char buf[GDN_LOG_DURATION_MAX]);
/* gdn_log_clock() - start in buf; returns buf. */
const char *gdn_log_duration(uint64_t start_ns, char buf[GDN_LOG_DURATION_MAX]);

/* message = "<prefix>.<action>"; the variadic part is NULL-terminated key/value string pairs. */
void gdn_log_debug(struct gdn_log *l, const char *action, ...) __attribute__((sentinel));
void gdn_log_info(struct gdn_log *l, const char *action, ...) __attribute__((sentinel));
/* Puts gdn_err_str(err) into data.error (if err != NULL). */
void gdn_log_error(struct gdn_log *l, const char *action, const struct gdn_err *err, ...)
    __attribute__((sentinel));
void gdn_log_fatal(struct gdn_log *l, const char *action, const struct gdn_err *err, ...)
    __attribute__((sentinel));
/* A line whose data (besides the session's) is the members of a JSON object (borrowed; may be
 * NULL): for re-logging what a child logged (lib/run.h). */
struct json_t;
void gdn_log_json(struct gdn_log *l, enum gdn_log_level level, const char *action,
		  const struct json_t *data);
