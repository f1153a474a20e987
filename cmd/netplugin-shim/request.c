/* The request both sides agree on (see nps.h and netplugin-shim(8)). */
#include <errno.h>
#include <string.h>

#include "lib/ipc.h"
#include "lib/path.h"
#include "cmd/netplugin-shim/nps.h"

bool nps_action_valid(const char *action)
{
	static const char *const actions[] = {"up", "down", "net-in", "net-out", "bulk-net-out"};

	for (size_t i = 0; action && i < GDN_ARRAY_SIZE(actions); i++)
		if (strcmp(action, actions[i]) == 0)
			return true;
	return false;
}

int nps_check_args(const char *action, const char *handle, struct gdn_err **err)
{
	if (!nps_action_valid(action))
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL, "unknown action '%s'",
				    action ? action : "");
	return gdn_name_validate("handle", handle ? handle : "", err);
}

json_t *nps_request_new(const char *action, const char *handle, const char *stdin_text,
			size_t stdin_len)
{
	json_auto_t *req = gdn_ipc_request_new("run", NPS_PROTO_VERSION);
	json_t *in = json_stringn(stdin_text ? stdin_text : "", stdin_text ? stdin_len : 0);

	if (!req || !in || json_object_set_new(req, "action", json_string(action)) < 0 ||
	    json_object_set_new(req, "handle", json_string(handle)) < 0 ||
	    json_object_set_new(req, "stdin", in) < 0)
		return NULL;
	return json_incref(req);
}

int nps_request_parse(const json_t *msg, size_t nfds, struct nps_request *ret, struct gdn_err **err)
{
	const char *op = NULL;
	json_t *in;
	int v = 0, r;

	memset(ret, 0, sizeof(*ret));
	r = gdn_ipc_request_parse(msg, &op, &v, err);
	if (r < 0)
		return r;
	ret->v = v;
	if (strcmp(op, "run") != 0)
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL, "unknown op '%s'", op);
	if (v > NPS_PROTO_VERSION)
		return gdn_err_kind(err, GDN_ERR_GENERIC, EPROTONOSUPPORT,
				    "request 'run' is of protocol version %d; this netplugin-shim "
				    "speaks versions 0 to %d",
				    v, NPS_PROTO_VERSION);
	ret->action = json_string_value(json_object_get(msg, "action"));
	ret->handle = json_string_value(json_object_get(msg, "handle"));
	in = json_object_get(msg, "stdin");
	if (!ret->action || !ret->handle || (in && !json_is_string(in)))
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
				    "request 'run': action and handle must be strings, and stdin "
				    "a string if given");
	ret->stdin_text = in ? json_string_value(in) : "";
	ret->stdin_len = in ? json_string_length(in) : 0;
	r = nps_check_args(ret->action, ret->handle, err);
	if (r < 0)
		return r;
	if (nfds > 1)
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
				    "request 'run': %zu fds (at most one: a network namespace)",
				    nfds);
	return 0;
}
