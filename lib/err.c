/* The suite's error object: see err.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/err.h"

static int code_of(int errnum)
{
	return errnum > 0 ? -errnum : -EIO;
}

static int normalize(int errnum)
{
	return errnum < 0 ? -errnum : errnum;
}

/* Allocates and installs a new error unless one is already set. Takes ownership of msg (which
 * may be NULL after an allocation failure; a fixed text is used then). */
static struct gdn_err *install(struct gdn_err **err, enum gdn_err_kind kind, int errnum, char *msg)
{
	struct gdn_err *e;

	if (!err || *err) {
		free(msg);
		return NULL;
	}
	e = calloc(1, sizeof(*e));
	if (!e) {
		free(msg);
		return NULL;
	}
	e->errnum = errnum;
	e->kind = kind;
	e->msg = msg ? msg : strdup("out of memory");
	*err = e;
	return e;
}

static char *vformat(const char *fmt, va_list ap) GDN_PRINTF(1, 0);
static char *vformat(const char *fmt, va_list ap)
{
	char *s = NULL;

	if (vasprintf(&s, fmt, ap) < 0)
		return NULL;
	return s;
}

int gdn_err_set(struct gdn_err **err, int errnum, const char *fmt, ...)
{
	va_list ap;
	char *base, *msg = NULL;

	errnum = normalize(errnum);
	if (!err || *err)
		return code_of(errnum);
	va_start(ap, fmt);
	base = vformat(fmt, ap);
	va_end(ap);
	if (base && errnum > 0) {
		if (asprintf(&msg, "%s: %s", base, strerror(errnum)) < 0)
			msg = NULL;
		free(base);
	} else {
		msg = base;
	}
	install(err, GDN_ERR_GENERIC, errnum, msg);
	return code_of(errnum);
}

int gdn_err_kind(struct gdn_err **err, enum gdn_err_kind kind, int errnum, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	errnum = normalize(errnum);
	if (!err || *err)
		return code_of(errnum);
	va_start(ap, fmt);
	msg = vformat(fmt, ap);
	va_end(ap);
	install(err, kind, errnum, msg);
	return code_of(errnum);
}

int gdn_err_not_found(struct gdn_err **err, const char *handle)
{
	struct gdn_err *e;
	char *msg = NULL;

	if (!err || *err)
		return -ENOENT;
	if (asprintf(&msg, "unknown handle: %s", handle ? handle : "") < 0)
		msg = NULL;
	e = install(err, GDN_ERR_CONTAINER_NOT_FOUND, ENOENT, msg);
	if (e)
		e->handle = strdup(handle ? handle : "");
	return -ENOENT;
}

int gdn_err_process_not_found(struct gdn_err **err, const char *id)
{
	struct gdn_err *e;
	char *msg = NULL;

	if (!err || *err)
		return -ENOENT;
	if (asprintf(&msg, "unknown process: %s", id ? id : "") < 0)
		msg = NULL;
	e = install(err, GDN_ERR_PROCESS_NOT_FOUND, ENOENT, msg);
	if (e)
		e->process_id = strdup(id ? id : "");
	return -ENOENT;
}

int gdn_err_wrap(struct gdn_err **err, const char *fmt, ...)
{
	va_list ap;
	char *ctx, *msg = NULL;

	if (!err || !*err)
		return -EIO;
	va_start(ap, fmt);
	ctx = vformat(fmt, ap);
	va_end(ap);
	if (ctx && asprintf(&msg, "%s: %s", ctx, gdn_err_str(*err)) >= 0) {
		free((*err)->msg);
		(*err)->msg = msg;
	}
	free(ctx);
	return gdn_err_code(*err);
}

int gdn_err_code(const struct gdn_err *e)
{
	return e ? code_of(e->errnum) : -EIO;
}

const char *gdn_err_str(const struct gdn_err *e)
{
	if (!e)
		return "unknown error";
	return e->msg ? e->msg : "out of memory";
}

struct gdn_err *gdn_err_free(struct gdn_err *e)
{
	if (!e)
		return NULL;
	free(e->msg);
	free(e->handle);
	free(e->process_id);
	free(e);
	return NULL;
}
