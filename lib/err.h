/* One error idiom for the whole suite: functions that can fail for a reason a person must read
 * take `struct gdn_err **err` as their last parameter and return -errno (>= 0 on success). */
#pragma once

#include "lib/macro.h"

/* Garden's error types (garden/errors.go); the HTTP layer maps them to Type and status. */
enum gdn_err_kind {
	GDN_ERR_GENERIC = 0,
	GDN_ERR_CONTAINER_NOT_FOUND,
	GDN_ERR_PROCESS_NOT_FOUND,
	GDN_ERR_EXECUTABLE_NOT_FOUND,
	GDN_ERR_SERVICE_UNAVAILABLE,
	GDN_ERR_UNRECOVERABLE,
};

struct gdn_err {
	int errnum; /* positive errno, or 0 */
	enum gdn_err_kind kind;
	char *msg;	  /* complete, human-readable; already includes strerror where relevant */
	char *handle;	  /* ContainerNotFoundError: the handle */
	char *process_id; /* ProcessNotFoundError: the process id */
	int http_status;  /* 0 = derive from kind (404 for the NotFound kinds, else 500) */
};

/* Sets *err (if err != NULL and *err == NULL; an existing error is kept) and returns -errnum,
 * or -EIO when errnum is 0. With errnum > 0 the message gets ": <strerror>" appended. */
int gdn_err_set(struct gdn_err **err, int errnum, const char *fmt, ...) GDN_PRINTF(3, 4);

/* Like gdn_err_set, but of a Garden kind and with the message exactly as formatted (no strerror):
 * for messages that reach API clients. Returns -errnum (-EIO when 0). */
int gdn_err_kind(struct gdn_err **err, enum gdn_err_kind kind, int errnum, const char *fmt, ...)
    GDN_PRINTF(4, 5);

/* ContainerNotFoundError for `handle` ("unknown handle: <h>"); returns -ENOENT. */
int gdn_err_not_found(struct gdn_err **err, const char *handle);
/* ProcessNotFoundError for `id` ("unknown process: <id>"); returns -ENOENT. */
int gdn_err_process_not_found(struct gdn_err **err, const char *id);

/* Prefixes context: "<ctx>: <old msg>". Returns the same code as the original error
 * (-errnum, -EIO when 0). With err == NULL or *err == NULL it returns -EIO. */
int gdn_err_wrap(struct gdn_err **err, const char *fmt, ...) GDN_PRINTF(2, 3);

/* The code a function returns for this error (-errnum or -EIO). */
int gdn_err_code(const struct gdn_err *e);

/* The message, never NULL ("unknown error" for e == NULL). */
const char *gdn_err_str(const struct gdn_err *e);

/* NULL-safe; returns NULL. */
struct gdn_err *gdn_err_free(struct gdn_err *e);

static inline void gdn_err_freep(struct gdn_err **e)
{
	gdn_err_free(*e);
}
#define _cleanup_err_ _cleanup_(gdn_err_freep)
