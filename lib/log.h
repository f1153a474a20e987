/* lager-compatible JSON lines on a file descriptor (stderr by default):
 * {"timestamp":"2026-11-28T09:50:01.123456789Z","level":"info","source":"guardian",
 *  "message":"guardian.create.started","data":{"handle":"h1","session":"3"}}
 * Each line is emitted with a single write(2). */
#pragma once

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
