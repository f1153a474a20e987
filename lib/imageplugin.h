/* The protocol of image-plugin-shim (image-plugin-shim(8)) that guardian and the shim share,
 * and the plugin's command line (grootfs' contract, internals §10): the shim holds the plugins'
 * paths and extra arguments; a request names only which plugin ("unprivileged" or
 * "privileged"), the subcommand and its operands, never a binary or an argument vector, so a
 * peer of the socket can make it run nothing but the configured plugins' create, delete, stats
 * and capacity. Requests and replies use the envelope of garden-ipc(5) on a SOCK_SEQPACKET
 * socket, one packet each. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "lib/err.h"

#define GDN_IMAGEPLUGIN_VERSION 1
/* Each captured stream of a plugin run; with JSON escaping both fit one packet. */
#define GDN_IMAGEPLUGIN_OUTPUT_MAX (64 * 1024)
#define GDN_IMAGEPLUGIN_ARGS_MAX 64

enum gdn_imageplugin_kind { GDN_IMAGEPLUGIN_UNPRIVILEGED = 0, GDN_IMAGEPLUGIN_PRIVILEGED = 1 };
enum gdn_imageplugin_op {
	GDN_IMAGEPLUGIN_CREATE,
	GDN_IMAGEPLUGIN_DELETE,
	GDN_IMAGEPLUGIN_STATS,
	GDN_IMAGEPLUGIN_CAPACITY,
	GDN_IMAGEPLUGIN_PING
};

/* One configured plugin: the binary and the arguments that come before the subcommand. */
struct gdn_imageplugin_conf {
	const char *path; /* NULL: not configured */
	const char *const *args;
	size_t n_args;
};

/* A request, its strings borrowed from the message it was parsed from. */
struct gdn_imageplugin_request {
	int v;
	enum gdn_imageplugin_op op;
	enum gdn_imageplugin_kind plugin;
	const char *handle;   /* create, delete, stats */
	const char *rootfs;   /* create: the rootfs URI as the client gave it */
	uint64_t disk_limit;  /* create: --disk-limit-size-bytes when > 0 */
	bool exclude_image;   /* create: --exclude-image-from-quota (with a disk limit) */
	const char *username; /* create: "" for none */
	const char *password;
};

/* "unprivileged" / "privileged" */
const char *gdn_imageplugin_name(enum gdn_imageplugin_kind p);
/* The op's name in requests: create, delete, stats, capacity, ping. */
const char *gdn_imageplugin_op_name(enum gdn_imageplugin_op op);
/* The word Garden's messages use for the op: create, destroy, metrics, capacity. */
const char *gdn_imageplugin_op_word(enum gdn_imageplugin_op op);

/* Builds a request; NULL on ENOMEM or a string that is not UTF-8. */
json_t *gdn_imageplugin_request_new(const struct gdn_imageplugin_request *req);
/* Validates a received request. -EINVAL / -EPROTONOSUPPORT with *err (nothing runs then). */
int gdn_imageplugin_request_parse(const json_t *msg, struct gdn_imageplugin_request *ret,
				  struct gdn_err **err);

/* The plugin's argv for a request, as Garden's DefaultCommandCreator builds it: the binary, its
 * extra args, then `create [--disk-limit-size-bytes N [--exclude-image-from-quota]]
 * [--username U] [--password P] <rootfs with its first '#' made ':'> <handle>`, `delete H`,
 * `stats H` or `capacity`. *ret_argv (NULL-terminated) and the strings it points at are one
 * allocation: free(*ret_argv). */
int gdn_imageplugin_argv(const struct gdn_imageplugin_conf *pc,
			 const struct gdn_imageplugin_request *req, char ***ret_argv,
			 struct gdn_err **err);

/* The error of a failed run, worded as Garden's: "running image plugin <word>: <what the plugin
 * said>: <how it ended>", where what it said is its stdout (trailing white space dropped) or,
 * when that is empty, its last stderr line (a lager line's data.error, or its message). */
int gdn_imageplugin_failure(struct gdn_err **err, int errnum, enum gdn_imageplugin_op op,
			    const char *out, size_t out_len, const char *errtext, size_t err_len,
			    const char *how);
