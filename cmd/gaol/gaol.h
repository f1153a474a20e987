/* gaol: the command-line client of a Garden server. Shared declarations of its files. */
#pragma once

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "lib/err.h"
#include "lib/http_client.h"
#include "lib/ipc.h"

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
	GL_OPT_TTY,
	/* net-out's */
	GL_OPT_IP_START,
	GL_OPT_IP_END,
	GL_OPT_PORT_START,
	GL_OPT_PORT_END,
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
/* Whether arg is KEY=VALUE with a non-empty KEY (env entries, properties); if not, prints
 * "invalid <what> '<arg>': expected KEY=VALUE" as a usage error. */
bool gl_key_value_ok(const struct gl_cmd *cmd, const char *what, const char *arg);
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
/* A non-2xx response as *err: the Garden error's message, or "bad response (HTTP <code>): ...". */
int gl_decode_error(const struct gdn_http_resp *resp, struct gdn_err **err);
/* Prints "gaol: <message>" to stderr; returns GL_EXIT_FAIL. */
int gl_fail(const struct gdn_err *err);

/* Dials and sends a hijacked request (Run, Attach, a stream attachment). A non-2xx answer becomes
 * *err as in gl_request. Returns the connection, the raw stream from now on; *ret_leftover is
 * replaced by the stream bytes already read with the response head. */
int gl_hijack(const char *method, const char *path, const char *content_type, const void *body,
	      size_t len, struct gdn_buf *ret_leftover, struct gdn_err **err);
/* gl_hijack in two halves, to send several requests before reading their answers: _begin
 * dials and sends (returning the fd, with the send's result in *ret_sent), _end reads the head
 * and takes the fd (closing it on failure). */
int gl_hijack_begin(const char *method, const char *path, const char *content_type,
		    const void *body, size_t len, int *ret_sent, struct gdn_err **err);
int gl_hijack_end(int fd, int sent, const char *method, const char *path,
		  struct gdn_buf *ret_leftover, struct gdn_err **err);

/* "/containers/<escaped handle><suffix>", malloc'd (NULL on ENOMEM). */
char *gl_container_path(const char *handle, const char *suffix);
/* A JSON string from arbitrary bytes: invalid UTF-8 becomes U+FFFD, as Go's encoder does. */
json_t *gl_json_string(const char *s);
/* Encodes v as Go's json.Encoder does: compact, '<' '>' '&' U+2028 U+2029 escaped as \u003c
 * and so on, lower-case hex in \u escapes, then "\n". malloc'd; NULL on error. */
char *gl_json_line(const json_t *v, size_t *ret_len);
/* The same for s[0..len), which may contain NUL bytes. */
json_t *gl_json_stringn(const char *s, size_t len);
/* The length of the longest prefix of s[0..len) that does not end inside a multi-byte UTF-8
 * sequence that more input could still complete: stdin is sent in chunks, and a character split
 * between two reads must not turn into two U+FFFDs. */
size_t gl_utf8_complete_len(const char *s, size_t len);

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

/* The ProcessSpec of `gaol run` and `gaol shell` (protocol §9.2). */
struct gl_process_opts {
	const char *id; /* "" or NULL: the server makes one up */
	const char *path;
	const char *const *args;
	size_t n_args;
	const char *const *env;
	size_t n_env;
	const char *dir;
	const char *user;
	const char *image; /* a pea's rootfs URI, or NULL */
	bool tty;	   /* then "tty":{"window_size":{"columns":…,"rows":…}} */
	unsigned columns, rows;
};
/* Builds the ProcessSpec JSON exactly as Go's client encodes it: members in declaration order,
 * empty strings and arrays left out, "rlimits" and "image" always present. NULL on ENOMEM. */
json_t *gl_process_spec(const struct gl_process_opts *o);

/* process.c: gaol's side of the process protocol (protocol §5). */
struct gl_process {
	int control;		/* the hijacked Run/Attach connection, -1 when closed */
	struct gdn_lines lines; /* payloads from the server not yet handled */
	char *id;		/* process_id of the first payload */
	char *stream_id;	/* stream_id of the first payload */
};
/* Sends a Run (POST …/processes with a ProcessSpec) or Attach (GET …/processes/ID) and reads the
 * first payload {"process_id":…,"stream_id":…}. A Garden error answer becomes *err. */
int gl_process_open(struct gl_process *p, const char *method, const char *path, const json_t *spec,
		    struct gdn_err **err);
void gl_process_close(struct gl_process *p);

/* Where a process's I/O goes while gaol waits for it. */
struct gl_io {
	int in;	    /* read and sent as stdin payloads (EOF payload at its end), or -1: none */
	int out;    /* receives the stdout stream */
	int err;    /* receives the stderr stream */
	int sigfd;  /* signalfd: SIGINT/SIGTERM send {"signal":0}; SIGWINCH a resize; or -1 */
	int tty_fd; /* the terminal whose size a SIGWINCH sends, or -1 */
};
/* Opens the stdout and stderr stream attachments of `handle`'s process, then copies (in one
 * poll loop) io->in into stdin payloads and the streams into io->out/io->err until the exit
 * payload has arrived and both streams have ended. Returns the exit status (>= 0), or -errno
 * with *err: an {"error":…} payload (its message), a control connection that ended before the
 * exit payload, a failed stream attachment or a failed local write. */
int gl_process_wait(struct gl_process *p, const char *handle, const struct gl_io *io,
		    struct gdn_err **err);

/* tty.c: the local terminal of `gaol shell` and `run --tty`. */
/* The first of fds 0, 1, 2 that is a terminal, or -1. */
int gl_tty_find(void);
/* Its window size; 80x24 when fd < 0 or the size is unknown or zero. */
void gl_tty_size(int fd, unsigned *ret_columns, unsigned *ret_rows);
/* Raw mode on the terminal fd (saving the old settings); 0 or -errno. */
int gl_tty_raw(int fd);
/* Restores what gl_tty_raw saved; safe to call twice or without gl_tty_raw. */
void gl_tty_restore(void);

/* commands.c, create.c, run.c: the commands. */
int gl_cmd_ping(const struct gl_cmd *cmd, int argc, char **argv);
int gl_cmd_capacity(const struct gl_cmd *cmd, int argc, char **argv);
int gl_cmd_create(const struct gl_cmd *cmd, int argc, char **argv);
int gl_cmd_destroy(const struct gl_cmd *cmd, int argc, char **argv);
int gl_cmd_list(const struct gl_cmd *cmd, int argc, char **argv);
int gl_cmd_info(const struct gl_cmd *cmd, int argc, char **argv);
int gl_cmd_metrics(const struct gl_cmd *cmd, int argc, char **argv);
int gl_cmd_properties(const struct gl_cmd *cmd, int argc, char **argv);
int gl_cmd_get_property(const struct gl_cmd *cmd, int argc, char **argv);
int gl_cmd_set_property(const struct gl_cmd *cmd, int argc, char **argv);
int gl_cmd_remove_property(const struct gl_cmd *cmd, int argc, char **argv);
int gl_cmd_set_grace(const struct gl_cmd *cmd, int argc, char **argv);
int gl_cmd_stop(const struct gl_cmd *cmd, int argc, char **argv);
int gl_cmd_limits(const struct gl_cmd *cmd, int argc, char **argv);
int gl_cmd_net_in(const struct gl_cmd *cmd, int argc, char **argv);
int gl_cmd_net_out(const struct gl_cmd *cmd, int argc, char **argv);
int gl_cmd_run(const struct gl_cmd *cmd, int argc, char **argv);
int gl_cmd_attach(const struct gl_cmd *cmd, int argc, char **argv);
int gl_cmd_shell(const struct gl_cmd *cmd, int argc, char **argv);
/* stream.c */
int gl_cmd_stream_in(const struct gl_cmd *cmd, int argc, char **argv);
int gl_cmd_stream_out(const struct gl_cmd *cmd, int argc, char **argv);
