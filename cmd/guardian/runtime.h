/* Invocations of the OCI runtime binary (runc or crun; internals §6). */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include "lib/err.h"
#include "cmd/guardian/config.h"

/* The runtime's base name ("runc"), for messages. */
const char *gd_runtime_name(const struct gd_config *cfg);

/* `<runtime> [--root R] --log create.log --log-format json [extra args] run --detach
 * --no-new-keyring --bundle <dir> --pid-file <dir>/pidfile <handle>` in cwd <dir> (so the log
 * is <dir>/create.log), stdin/stdout on /dev/null, stderr on a memfd. On failure the message
 * carries the exit status and the runtime's last error log line (or its stderr). */
int gd_runtime_run(const struct gd_config *cfg, const char *handle, const char *bundle_dir,
		   struct gdn_err **err);

/* `<runtime> [--root R] delete [--force] <handle>`. A container the runtime does not know is
 * success. */
int gd_runtime_delete(const struct gd_config *cfg, const char *handle, bool force,
		      struct gdn_err **err);

/* `<runtime> [--root R] state <handle>`: the init pid (host pid namespace) and the status
 * ("created", "running", "paused", "stopped"; malloc'd, ret_status may be NULL). A container the
 * runtime does not know is -ENOENT (with *err set); any other failure is -EIO. */
int gd_runtime_state(const struct gd_config *cfg, const char *handle, pid_t *ret_pid,
		     char **ret_status, struct gdn_err **err);
