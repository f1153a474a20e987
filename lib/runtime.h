/* Invoking the OCI runtime (runc or crun), for guardian (`run --detach`, `delete`, `state`) and
 * dadoo (`exec --detach`): one argv builder with the global arguments and one bound, the JSON
 * log (`--log FILE --log-format json`, FILE relative to the runtime's cwd: crun reads
 * "driver:path" and would take a ':' of an absolute path for a driver name), the message of a
 * failure ("read the runtime's log, else its stderr") and the deadline of every invocation. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lib/err.h"
#include "lib/log.h"
#include "lib/run.h"

/* How many extra global arguments a runtime gets (guardian's --runtime-plugin-extra-arg, which
 * it hands on as dadoo's --runtime-arg): one bound for both. */
#define GDN_RUNTIME_EXTRA_ARGS_MAX 16

/* Every runtime argv, argv[0] included: the global part takes at most 3 + 2 + 2 +
 * GDN_RUNTIME_EXTRA_ARGS_MAX, the longest operation (exec with a TTY) 11. */
#define GDN_RUNTIME_ARGV_MAX 64

/* The deadline of each runtime invocation unless guardian's --runtime-timeout (dadoo's
 * --runtime-timeout) says otherwise: a runtime that takes longer is stuck (e.g. `runc init`
 * blocked opening a FIFO planted at the container's /etc/passwd). */
#define GDN_RUNTIME_TIMEOUT_DEFAULT_NS (60ULL * 1000000000ULL)

/* The runtime and its global arguments. */
struct gdn_runtime {
	const char *path;	       /* the binary; its basename names it in messages */
	const char *root;	       /* --root, NULL: the runtime's default */
	const char *const *extra_args; /* global arguments, NULL-terminated; may be NULL */
	uint64_t timeout_ns;	       /* deadline of each invocation; 0: the default */
	struct gdn_log *log;	       /* the argv is logged here at debug level; may be NULL */
};

struct gdn_runtime_argv {
	const char *v[GDN_RUNTIME_ARGV_MAX + 1]; /* NULL-terminated */
	size_t n;
	bool overflow; /* an argument did not fit: gdn_runtime_argv_check fails */
};

/* The runtime's basename ("runc"), for messages. */
const char *gdn_runtime_name(const struct gdn_runtime *rt);

/* The deadline of one invocation (rt->timeout_ns, or the default). */
uint64_t gdn_runtime_timeout_ns(const struct gdn_runtime *rt);

/* Starts `<runtime> [--root R] [--log <log> --log-format json] [extra args]...`; `log` (NULL:
 * none) is relative to the runtime's cwd. */
void gdn_runtime_argv_init(struct gdn_runtime_argv *a, const struct gdn_runtime *rt,
			   const char *log);
/* Appends one argument; past GDN_RUNTIME_ARGV_MAX it marks the argv as overflowed (it never
 * drops an argument silently: gdn_runtime_argv_check then fails). */
void gdn_runtime_argv_add(struct gdn_runtime_argv *a, const char *arg);
/* -E2BIG with "<runtime> <op>: more than N arguments" if an argument did not fit; else logs the
 * argv at debug level (message "runtime-args", data "op" and "args") and returns 0. */
int gdn_runtime_argv_check(const struct gdn_runtime_argv *a, const struct gdn_runtime *rt,
			   const char *op, struct gdn_err **err);

/* The message of the last "level":"error" JSON line of a runtime log (runc: {"level","msg",
 * "time"}; crun: {"msg","level","time"}), followed by the first "level":"fatal" message in
 * parentheses if there is one; else the last non-empty line; NULL if there is none.
 * The result is malloc'd. */
char *gdn_runtime_log_error(const char *log_text);

/* Whether a runtime's error means the executable of an exec was not found (runc's and crun's
 * wordings). */
bool gdn_runtime_not_found(const char *msg);

/* The error of an invocation that exited with `status` != 0: "<runtime> <op>: exit status <n>:
 * <msg>", msg from the log at `log_path` (may be NULL) if it has one, else from `stderr_text`
 * (may be NULL); kind GDN_ERR_EXECUTABLE_NOT_FOUND for an exec whose message says so. Returns
 * -EIO. */
int gdn_runtime_failed(const struct gdn_runtime *rt, const char *op, int status,
		       const char *log_path, const char *stderr_text, struct gdn_err **err);

/* What the runtime wrote to its stderr: a memfd, read from its start, or a (non-blocking) pipe,
 * read as far as it goes; bounded, NUL-terminated, "" for nothing; NULL on ENOMEM. */
char *gdn_runtime_stderr_text(int fd, size_t *ret_len);

/* The error of an invocation that missed its deadline (it was killed): "<runtime> <op>: timed
 * out after <deadline>: the runtime was killed". Returns -ETIMEDOUT. */
int gdn_runtime_timed_out(const struct gdn_runtime *rt, const char *op, struct gdn_err **err);

/* Runs a checked argv to completion under the deadline, with stdin on /dev/null and cwd `cwd`
 * (NULL: ours), in a process group of its own that is killed as a whole at the deadline (what
 * the runtime forked, e.g. crun's container process to be, is stuck like it). With `pipes`, stdout
 * and stderr are captured into *ret; without (`run
 * --detach`, whose container init inherits the runtime's stdio and would hold a pipe open),
 * stdout is /dev/null and stderr a memfd, read back into ret->err. Returns 0 with ret->status
 * whatever it is; -ETIMEDOUT (gdn_runtime_timed_out's message) when the runtime was killed at
 * the deadline; another -errno if it could not be run. */
int gdn_runtime_call(const struct gdn_runtime *rt, const char *op, const struct gdn_runtime_argv *a,
		     const char *cwd, bool pipes, struct gdn_run_result *ret, struct gdn_err **err);
