/* struct gdn_err on the wire, keyed by Garden's error Type names (garden/errors.go):
 * "UnrecoverableError", "ServiceUnavailableError", "ContainerNotFoundError",
 * "ProcessNotFoundError", "ExecutableNotFoundError", and "" for a plain error.
 *
 * Two JSON forms, one conversion each way:
 * - between our components (garden-ipc(5)): {"type":T,"message":M} plus, when set, "handle",
 *   "process_id", "status" (an HTTP status other than the Type's) and "errno";
 * - to Garden clients (the HTTP error body): exactly
 *   {"Type":T,"Message":M,"Handle":H,"ProcessID":P,"Binary":""}. */
#pragma once

#include <jansson.h>
#include "lib/err.h"

/* The Type name of a kind ("" for GDN_ERR_GENERIC). */
const char *gdn_err_type_name(enum gdn_err_kind kind);
/* The kind of a Type name; "" , NULL and names we do not know are GDN_ERR_GENERIC. */
enum gdn_err_kind gdn_err_type_parse(const char *name);

/* The HTTP status for e: e->http_status if set, else 404 for the NotFound types, else 500. */
int gdn_err_http_status(const struct gdn_err *e);

/* The IPC form of e (NULL e: an "unknown error"). NULL only when out of memory. */
json_t *gdn_err_to_json(const struct gdn_err *e);
/* Sets *err from an IPC error value and returns its code (-errno, -EIO when it has none). A
 * bare string (version 0 of the dadoo protocol) is a plain error with that message; anything
 * else that is not an object with a string "message" is a plain "malformed error" error. */
int gdn_err_from_json(const json_t *j, struct gdn_err **err);

/* The Garden HTTP error body for e. NULL only when out of memory. */
json_t *gdn_err_to_garden_json(const struct gdn_err *e);
/* Sets *err from a Garden error body and returns its code. Like Go's client, the NotFound
 * types are rebuilt from their Handle/ProcessID ("unknown handle: <h>"); a body that is not an
 * object with a string Message gives -EBADMSG without setting *err (the caller says why). */
int gdn_err_from_garden_json(const json_t *j, struct gdn_err **err);
