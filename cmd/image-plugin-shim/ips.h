/* image-plugin-shim (image-plugin-shim(8)): runs guardian's image plugins (grootfs' CLI
 * contract, internals §10) in the host's mount namespace, for a guardian whose own namespace
 * is private (BPM) or that simply lets the shim do it (guardian spawns one by default).
 *
 * The shim holds the plugins' paths and extra arguments from its own flags; a request names
 * only which plugin ("unprivileged" or "privileged"), the subcommand and its operands, never a
 * binary or an argument vector, so a peer of the socket can make it run nothing but the
 * configured plugins' create, delete, stats and capacity. Requests and replies use the envelope
 * of garden-ipc(5) on a SOCK_SEQPACKET socket, one packet each. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "lib/err.h"

#define IPS_PROTO_VERSION 1
#define IPS_NS_PER_MS 1000000ULL
/* Each captured stream of a plugin run; with JSON escaping both fit one packet. */
#define IPS_OUTPUT_MAX (64 * 1024)
#define IPS_ARGS_MAX 64

enum ips_plugin { IPS_UNPRIVILEGED = 0, IPS_PRIVILEGED = 1 };
enum ips_op { IPS_OP_CREATE, IPS_OP_DELETE, IPS_OP_STATS, IPS_OP_CAPACITY, IPS_OP_PING };

/* One configured plugin: the binary and the arguments that come before the subcommand. */
struct ips_plugin_conf {
	const char *path; /* NULL: not configured */
	const char *const *args;
	size_t n_args;
};

/* A request, its strings borrowed from the message it was parsed from. */
struct ips_request {
	int v;
	enum ips_op op;
	enum ips_plugin plugin;
	const char *handle;   /* create, delete, stats */
	const char *rootfs;   /* create: the rootfs URI as the client gave it */
	uint64_t disk_limit;  /* create: --disk-limit-size-bytes when > 0 */
	bool exclude_image;   /* create: --exclude-image-from-quota (with a disk limit) */
	const char *username; /* create: "" for none */
	const char *password;
};

/* --- request.c ------------------------------------------------------------------------------ */

/* "unprivileged" / "privileged" */
const char *ips_plugin_name(enum ips_plugin p);
/* The op's name in requests: create, delete, stats, capacity, ping. */
const char *ips_op_name(enum ips_op op);
/* The word Garden's messages use for the op: create, destroy, metrics, capacity. */
const char *ips_op_garden_word(enum ips_op op);

/* Builds a request; NULL on ENOMEM or a string that is not UTF-8. */
json_t *ips_request_new(const struct ips_request *req);
/* Validates a received request. -EINVAL / -EPROTONOSUPPORT with *err (nothing runs then). */
int ips_request_parse(const json_t *msg, struct ips_request *ret, struct gdn_err **err);

/* The plugin's argv for a request, as Garden's DefaultCommandCreator builds it: the binary, its
 * extra args, then `create [--disk-limit-size-bytes N [--exclude-image-from-quota]]
 * [--username U] [--password P] <rootfs with its first '#' made ':'> <handle>`, `delete H`,
 * `stats H` or `capacity`. *ret_argv (NULL-terminated) and the strings it points at are one
 * allocation: free(*ret_argv). */
int ips_argv_build(const struct ips_plugin_conf *pc, const struct ips_request *req,
		   char ***ret_argv, struct gdn_err **err);

/* The error of a failed run, worded as Garden's: "running image plugin <word>: <what the plugin
 * said>: <how it ended>", where what it said is its stdout (trailing white space dropped) or,
 * when that is empty, its last stderr line (a lager line's data.error, or its message). */
int ips_failure(struct gdn_err **err, int errnum, enum ips_op op, const char *out, size_t out_len,
		const char *errtext, size_t err_len, const char *how);

/* --- server.c: `image-plugin-shim serve` ------------------------------------------------------ */

struct ips_serve_opts {
	const char *socket_path;
	unsigned socket_mode;
	struct ips_plugin_conf plugins[2]; /* by enum ips_plugin */
	uint64_t timeout_ns;
	const char *timeout_text; /* as given, for messages */
};

/* Serves until SIGTERM or SIGINT, then waits for the requests in flight and returns 0. */
int ips_serve(const struct ips_serve_opts *o, struct gdn_err **err);

/* --- client.c: the admin commands ------------------------------------------------------------ */

struct ips_client_opts {
	const char *socket_path;
	uint64_t timeout_ns;
};

/* Sends req and prints the plugin's stdout (or, for ping, the reply); returns the exit status. */
int ips_client(const struct ips_client_opts *o, const struct ips_request *req);
