/* Host preparation at start-up (gdn's cgroup starter; skipped with --skip-setup). */
#pragma once

#include "lib/err.h"
#include "lib/log.h"

/* On a hybrid host (cgroup v1 hierarchies under a tmpfs at /sys/fs/cgroup plus cgroup2 at
 * /sys/fs/cgroup/unified), controllers that sit on the cgroup2 hierarchy instead of a v1 one are
 * mounted as v1 hierarchies at /sys/fs/cgroup/<name>, as Garden's cgroup starter does for every
 * unmounted controller. crun refuses to run at all on a hybrid host whose cgroup2 hierarchy has
 * controllers ("cgroups in hybrid mode not supported"). A v1 hierarchy that exists but is
 * mounted nowhere is mounted there too. Pure v1 and pure v2 hosts are left as they are. Failures
 * are logged, not fatal: runc works either way. */
void gd_cgroup_setup(struct gdn_log *log);
