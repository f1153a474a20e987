/* Invocations of the OCI runtime binary (runc or crun; internals §6), through lib/runtime.h:
 * each has guardian's --runtime-timeout as its deadline, after which the runtime is killed and
 * reaped and the error says so. The argv is logged to `log` (may be NULL) at debug level. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include "lib/err.h"
#include "lib/log.h"
#include "cmd/guardian/config.h"

/* The runtime's base name ("runc"), for messages. */
const char *gd_runtime_name(const struct gd_config *cfg);

/* `<runtime> [--root R] --log create.log --log-format json [extra args] run --detach
 * --no-new-keyring --bundle <dir> --pid-file <dir>/pidfile <handle>` in cwd <dir> (so the log
 * is <dir>/create.log), stdin/stdout on /dev/null, stderr on a memfd. On failure the message
 * carries the exit status and the runtime's last error log line (or its stderr); past the
 * deadline it is "<runtime> run: timed out after <d>: the runtime was killed" (-ETIMEDOUT). */
int gd_runtime_run(const struct gd_config *cfg, const char *handle, const char *bundle_dir,
		   struct gdn_log *log, struct gdn_err **err);

/* `<runtime> [--root R] [extra args] delete [--force] <handle>`. A container the runtime does
 * not know is success. */
int gd_runtime_delete(const struct gd_config *cfg, const char *handle, bool force,
		      struct gdn_log *log, struct gdn_err **err);

/* `<runtime> [--root R] [extra args] state <handle>`: the init pid (host pid namespace) and the
 * status ("created", "running", "paused", "stopped"; malloc'd, ret_status may be NULL). A
 * container the runtime does not know is -ENOENT (with *err set); past the deadline
 * -ETIMEDOUT; any other failure is -EIO. */
int gd_runtime_state(const struct gd_config *cfg, const char *handle, pid_t *ret_pid,
		     char **ret_status, struct gdn_log *log, struct gdn_err **err);

/* The bundle directory `state <id>` reports (malloc'd; "" if it names none): what tells a
 * pea's runtime container from another one of the same id. -ENOENT as gd_runtime_state. */
int gd_runtime_bundle(const struct gd_config *cfg, const char *id, char **ret, struct gdn_log *log,
		      struct gdn_err **err);
