/* `guardian setup`: the host preparation gdn's `setup` and garden-runc-release's start script
 * do once per boot, so that `server --skip-setup` (under BPM, in a mount namespace of its own)
 * finds the host ready. */
#pragma once

#include "lib/err.h"
#include "lib/log.h"
#include "cmd/guardian/config.h"

/* The cgroup hierarchies (gd_cgroup_setup), the store as a loop-backed XFS file system with
 * project quotas (gd_store_setup, cfg->store_size; on a kernel whose XFS has no quotas it is
 * left a plain directory, with an error logged, and disk limits are refused), the kernel settings
 * containers need (IPv4 forwarding, kernel.pid_max at least 4194304, dmesg restricted to root, as
 * Garden's greenskeeper sets them) and, when guardian would start kawasaki itself, kawasaki's
 * global chains (`kawasaki setup` with the flags `serve` would get). Idempotent. */
int gd_host_setup(const struct gd_config *cfg, struct gdn_log *log, struct gdn_err **err);
