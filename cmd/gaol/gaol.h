/* gaol: the command-line client of a Garden server. Shared declarations of its files. */
#pragma once

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "lib/err.h"
#include "lib/http_client.h"

#define GL_DEFAULT_TARGET "127.0.0.1:7777"

/* Exit statuses. */
#define GL_EXIT_OK 0
#define GL_EXIT_FAIL 1	/* the server answered an error, or could not be reached */
#define GL_EXIT_USAGE 2 /* bad command line */

/* --target, or NULL (then $GAOL_TARGET, then GL_DEFAULT_TARGET). Defined in client.c. */
extern const char *arg_target;

struct gl_cmd {
	const char *name;
	const char *synopsis;	       /* after "gaol NAME " */
	const char *summary;	       /* one line, for gaol --help */
	const char *help;	       /* the rest of "gaol NAME --help": description, options */
	const char *shortopts;	       /* for getopt_long, including the common "t:h" */
	const struct option *longopts; /* including GL_COMMON_LONGOPTS, {0}-terminated */
	int (*run)(const struct gl_cmd *cmd, int argc, char **argv);
};

#define GL_COMMON_LONGOPTS                                                                         \
	{"target", required_argument, NULL, 't'},                                                  \
	{                                                                                          \
		"help", no_argument, NULL, 'h'                                                     \
	}

/* Long-only options of create. */
enum {
	GL_OPT_MEMORY = 0x100,
	GL_OPT_CPU_SHARES,
	GL_OPT_PIDS,
};

extern const struct gl_cmd gl_commands[];
extern const size_t gl_n_commands;

/* main.c: option parsing shared by the commands. gl_getopt() is getopt_long() over the
 * command's options that also takes -t/--target; when it returns something the command does not
 * handle, the command returns gl_opt_other(cmd, c): 0 after printing --help, 2 otherwise. */
int gl_getopt(const struct gl_cmd *cmd, int argc, char **argv);
int gl_opt_other(const struct gl_cmd *cmd, int c);
/* Prints "gaol NAME: <msg>" and a hint to stderr; returns GL_EXIT_USAGE. */
int gl_usage_error(const struct gl_cmd *cmd, const char *fmt, ...) GDN_PRINTF(2, 3);
/* Checks the number of positional arguments (argv[optind..]); prints a usage error if wrong. */
bool gl_nargs_ok(const struct gl_cmd *cmd, int argc, char **argv, int min, int max);

/* client.c: talking to the server. Each call dials a new connection. A non-2xx answer becomes
 * *err with the Garden error's message ("unknown handle: <h>" for ContainerNotFoundError), or
 * "bad response (HTTP <code>): <body>" when the body is not a Garden error. */
const char *gl_target(void);
int gl_request(const char *method, const char *path, const char *body, size_t body_len,
	       struct gdn_http_resp *ret_resp, struct gdn_err **err);
/* Sends `body` (may be NULL) as compact JSON + "\n" and decodes the response body as JSON
 * (any value) into *ret (which may be NULL when the result is not needed). */
int gl_call(const char *method, const char *path, const json_t *body, json_t **ret,
	    struct gdn_err **err);
/* Prints "gaol: <message>" to stderr; returns GL_EXIT_FAIL. */
int gl_fail(const struct gdn_err *err);

/* "/containers/<escaped handle><suffix>", malloc'd (NULL on ENOMEM). */
char *gl_container_path(const char *handle, const char *suffix);
/* A JSON string from arbitrary bytes: invalid UTF-8 becomes U+FFFD, as Go's encoder does. */
json_t *gl_json_string(const char *s);

/* The keys of a JSON object sorted bytewise (Go's map order), NULL-terminated; free() the
 * array (the strings belong to obj). NULL on ENOMEM. */
const char **gl_sorted_keys(const json_t *obj);

/* spec.c: the ContainerSpec of `gaol create` (apart from create.c so that it can be tested). */
struct gl_kv {
	const char *key;
	const char *value;
};
struct gl_mount {
	const char *src;
	const char *dst;
	bool rw;
};
struct gl_create_opts {
	const char *handle;
	const char *rootfs;
	int64_t grace_ns;
	bool privileged;
	const char **env;
	size_t n_env;
	struct gl_kv *props;
	size_t n_props;
	struct gl_mount *mounts;
	size_t n_mounts;
	uint64_t memory_bytes;
	uint64_t cpu_shares;
	uint64_t pids;
};
/* Builds the ContainerSpec JSON exactly as Go's client encodes it (omitempty rules, sorted
 * properties; "image" and "limits" always present). NULL on ENOMEM. */
json_t *gl_create_spec(const struct gl_create_opts *o);
/* Parses "SRC:DST[:ro|rw]" into m (pointing into a copy kept in *ret_copy). 0 or -EINVAL. */
int gl_parse_mount(const char *s, struct gl_mount *m, char **ret_copy);
/* Parses BYTES with an optional K, M, G or T suffix (powers of 1024). 0, -EINVAL or -ERANGE. */
int gl_parse_bytes(const char *s, uint64_t *ret);

/* commands.c, create.c: the commands. */
int gl_cmd_ping(const struct gl_cmd *cmd, int argc, char **argv);
int gl_cmd_capacity(const struct gl_cmd *cmd, int argc, char **argv);
int gl_cmd_create(const struct gl_cmd *cmd, int argc, char **argv);
int gl_cmd_destroy(const struct gl_cmd *cmd, int argc, char **argv);
int gl_cmd_list(const struct gl_cmd *cmd, int argc, char **argv);
int gl_cmd_info(const struct gl_cmd *cmd, int argc, char **argv);
int gl_cmd_properties(const struct gl_cmd *cmd, int argc, char **argv);
int gl_cmd_get_property(const struct gl_cmd *cmd, int argc, char **argv);
int gl_cmd_set_property(const struct gl_cmd *cmd, int argc, char **argv);
int gl_cmd_remove_property(const struct gl_cmd *cmd, int argc, char **argv);
int gl_cmd_set_grace(const struct gl_cmd *cmd, int argc, char **argv);
int gl_cmd_stop(const struct gl_cmd *cmd, int argc, char **argv);
int gl_cmd_limits(const struct gl_cmd *cmd, int argc, char **argv);
