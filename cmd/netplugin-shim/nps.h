/* netplugin-shim (netplugin-shim(8)): runs guardian's external network plugin on its behalf.
 *
 * Under BPM guardian cannot run the plugin in the host's namespaces, so a root daemon
 * (`netplugin-shim serve`) does, and guardian runs the client (`netplugin-shim --socket S
 * --action A --handle H`) as its --network-plugin. The client sends one request per plugin
 * invocation on a SOCK_SEQPACKET socket in the envelope of garden-ipc(5), with the container's
 * network namespace as its one fd for `up`; the server runs the plugin with that namespace as
 * its fd 3 and `Pid` 0 in its stdin (as Garden's historic shim did), and replies with the
 * plugin's stdout or its failure. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "lib/err.h"

#define NPS_PROTO_VERSION 1
#define NPS_NS_PER_MS 1000000ULL
#define NPS_NS_PER_S 1000000000ULL
/* The plugin's stdin (as the client read it) and its stdout: bounded so that a request or a
 * reply, JSON-escaped, stays one packet under GDN_IPC_MAX_LINE. */
#define NPS_STDIN_MAX (128 * 1024)
#define NPS_OUTPUT_MAX (64 * 1024)

/* --- request.c: the one request ----------------------------------------------------------- */

/* {"op":"run","v":1,"action":A,"handle":H,"stdin":S}, with at most one fd: the network
 * namespace of the container (`up`). Members are borrowed from the message. */
struct nps_request {
	int v;
	const char *action;
	const char *handle;
	const char *stdin_text; /* may hold NUL */
	size_t stdin_len;
};

/* up, down, net-in, net-out, bulk-net-out: the actions of Garden's external networker. */
bool nps_action_valid(const char *action);
/* The action and handle, as both sides check them before anything runs:
 * "unknown action '<a>'" or gdn_name_validate's message, -EINVAL. */
int nps_check_args(const char *action, const char *handle, struct gdn_err **err);
/* The request; NULL on ENOMEM (or if stdin is not UTF-8: jansson refuses it). */
json_t *nps_request_new(const char *action, const char *handle, const char *stdin_text,
			size_t stdin_len);
/* Validates a received request with its number of fds; -EINVAL / -EPROTONOSUPPORT with *err. */
int nps_request_parse(const json_t *msg, size_t nfds, struct nps_request *ret,
		      struct gdn_err **err);

/* --- upinputs.c: the client's rewrite of `up`'s stdin ---------------------------------------- */

/* UpInputs' Pid as Go's decoder reads it (member names ignoring case, the last non-null one
 * wins; a null document or no Pid: 0), and *ret_text: the same text with the value of every
 * such member replaced by 0, every other byte kept. Errors as Go words them (e.g. "json: cannot
 * unmarshal string into Go struct field UpInputs.Pid of type int"), -EINVAL. */
int nps_upinputs_rewrite(const char *text, size_t len, int64_t *ret_pid, char **ret_text,
			 size_t *ret_len, struct gdn_err **err);

/* --- server.c, run.c: `netplugin-shim serve` ------------------------------------------------- */

struct nps_serve_opts {
	const char *socket_path;
	unsigned socket_mode;
	const char *plugin_path;
	const char **plugin_args; /* NULL-terminated */
	uint64_t timeout_ns;
	const char *timeout_text; /* as given, for messages */
};

/* Serves until SIGTERM or SIGINT, then finishes the plugin runs in flight and returns 0. */
int nps_serve(const struct nps_serve_opts *o, struct gdn_err **err);

/* --- client.c --------------------------------------------------------------------------------- */

struct nps_client_opts {
	const char *socket_path;
	const char *action;
	const char *handle;
	uint64_t timeout_ns;
};

/* One plugin invocation through the server; returns the exit status (0 or 1). */
int nps_client(const struct nps_client_opts *o);
