/* struct gdn_err ⇄ JSON: see errwire.h. */
#include <errno.h>
#include <string.h>
#include "lib/errwire.h"

static const struct {
	enum gdn_err_kind kind;
	const char *name;
} types[] = {
    {GDN_ERR_CONTAINER_NOT_FOUND, "ContainerNotFoundError"},
    {GDN_ERR_PROCESS_NOT_FOUND, "ProcessNotFoundError"},
    {GDN_ERR_EXECUTABLE_NOT_FOUND, "ExecutableNotFoundError"},
    {GDN_ERR_SERVICE_UNAVAILABLE, "ServiceUnavailableError"},
    {GDN_ERR_UNRECOVERABLE, "UnrecoverableError"},
};

const char *gdn_err_type_name(enum gdn_err_kind kind)
{
	for (size_t i = 0; i < GDN_ARRAY_SIZE(types); i++)
		if (types[i].kind == kind)
			return types[i].name;
	return "";
}

enum gdn_err_kind gdn_err_type_parse(const char *name)
{
	for (size_t i = 0; name && i < GDN_ARRAY_SIZE(types); i++)
		if (strcmp(types[i].name, name) == 0)
			return types[i].kind;
	return GDN_ERR_GENERIC;
}

int gdn_err_http_status(const struct gdn_err *e)
{
	if (e && e->http_status)
		return e->http_status;
	if (e && (e->kind == GDN_ERR_CONTAINER_NOT_FOUND || e->kind == GDN_ERR_PROCESS_NOT_FOUND))
		return 404;
	return 500;
}

json_t *gdn_err_to_json(const struct gdn_err *e)
{
	json_t *j = json_pack("{s:s, s:s}", "type", e ? gdn_err_type_name(e->kind) : "", "message",
			      gdn_err_str(e));

	if (!j || !e)
		return j;
	if ((e->handle && json_object_set_new(j, "handle", json_string(e->handle)) < 0) ||
	    (e->process_id &&
	     json_object_set_new(j, "process_id", json_string(e->process_id)) < 0) ||
	    (e->http_status &&
	     json_object_set_new(j, "status", json_integer(e->http_status)) < 0) ||
	    (e->errnum && json_object_set_new(j, "errno", json_integer(e->errnum)) < 0)) {
		json_decref(j);
		return NULL;
	}
	return j;
}

static const char *opt_str(const json_t *j, const char *key)
{
	return json_string_value(json_object_get(j, key));
}

/* Installs an error of `kind` with the message as it came, and the members that came. */
static int install(struct gdn_err **err, enum gdn_err_kind kind, int errnum, const char *msg,
		   const char *handle, const char *process_id, int status)
{
	int r = gdn_err_kind(err, kind, errnum, "%s", msg);

	if (!err || !*err)
		return r;
	if (handle && !(*err)->handle)
		(*err)->handle = strdup(handle);
	if (process_id && !(*err)->process_id)
		(*err)->process_id = strdup(process_id);
	if (status >= 100 && status <= 599)
		(*err)->http_status = status;
	return r;
}

int gdn_err_from_json(const json_t *j, struct gdn_err **err)
{
	json_int_t errnum, status;
	const char *msg;

	if (json_is_string(j))
		return gdn_err_kind(err, GDN_ERR_GENERIC, 0, "%s", json_string_value(j));
	msg = opt_str(j, "message");
	if (!json_is_object(j) || !msg)
		return gdn_err_kind(err, GDN_ERR_GENERIC, EBADMSG, "malformed error");
	errnum = json_integer_value(json_object_get(j, "errno"));
	status = json_integer_value(json_object_get(j, "status"));
	if (errnum < 0 || errnum > 4095)
		errnum = 0;
	return install(err, gdn_err_type_parse(opt_str(j, "type")), (int)errnum, msg,
		       opt_str(j, "handle"), opt_str(j, "process_id"), (int)status);
}

json_t *gdn_err_to_garden_json(const struct gdn_err *e)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s}", "Type", e ? gdn_err_type_name(e->kind) : "",
			 "Message", gdn_err_str(e), "Handle", e && e->handle ? e->handle : "",
			 "ProcessID", e && e->process_id ? e->process_id : "", "Binary", "");
}

int gdn_err_from_garden_json(const json_t *j, struct gdn_err **err)
{
	const char *msg = opt_str(j, "Message");
	const char *handle = opt_str(j, "Handle");
	const char *pid = opt_str(j, "ProcessID");
	enum gdn_err_kind kind;

	if (!json_is_object(j) || !msg)
		return -EBADMSG;
	kind = gdn_err_type_parse(opt_str(j, "Type"));
	if (kind == GDN_ERR_CONTAINER_NOT_FOUND && handle && *handle)
		return gdn_err_not_found(err, handle);
	if (kind == GDN_ERR_PROCESS_NOT_FOUND && pid && *pid)
		return gdn_err_process_not_found(err, pid);
	/* a NotFound type without its field is a plain error, as before */
	if (kind == GDN_ERR_CONTAINER_NOT_FOUND || kind == GDN_ERR_PROCESS_NOT_FOUND)
		kind = GDN_ERR_GENERIC;
	return gdn_err_kind(err, kind, 0, "%s", msg);
}
