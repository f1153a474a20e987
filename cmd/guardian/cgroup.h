/* The container's cgroups, read and removed through cgroupfs (v1, hybrid or v2). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "lib/depot.h"
#include "lib/err.h"
#include "lib/log.h"
#include "cmd/guardian/mountinfo.h"

/* On a cgroup-v2-only host the container's processes live in a leaf below its cgroup,
 * garden/<handle>/@init (GDN_CGROUP_INIT_LEAF), so that garden/<handle> itself holds
 * none: v2 lets a cgroup with processes of its own give its children no controllers, and crun
 * enables every controller on the way to a pea's cgroup, garden/<handle>/<id>. The limits stay
 * on garden/<handle> and cover the leaf and the peas; its usage files count them all. */
/* Moves `pid` (the container's init, just started by the runtime in garden/<handle> of the
 * unified hierarchy) into the leaf. */
int gd_cgroup_init_to_leaf(pid_t pid, const char *handle, struct gdn_err **err);
/* Whether `pid` is in garden/<handle>/@init of the unified hierarchy (then Runs join it:
 * `exec --cgroup @init`); a container made before the leaf existed has its init elsewhere. */
bool gd_cgroup_in_init_leaf(pid_t pid, const char *handle);

/* Removes the cgroup `rel` (e.g. "garden/<handle>", relative, as in config.json) and its
 * sub-cgroups in every mounted hierarchy, both at the hierarchy root and under this process's
 * own cgroup (runc and crun resolve a relative cgroupsPath differently). Missing is fine; a
 * cgroup that still has processes after ~5 s of retries fails with -EBUSY. */
int gd_cgroup_remove(const char *rel, struct gdn_log *log, struct gdn_err **err);

/* The pids (host pid namespace) in the cgroup of process `pid` (the devices hierarchy on v1,
 * like Garden's stopper; the unified one on v2, with its @init leaf). malloc'd array. */
int gd_cgroup_procs_of(pid_t pid, pid_t **ret, size_t *ret_n, struct gdn_err **err);

/* Writes the block IO weight (10-1000) of the cgroup of `pid`: blkio.weight or, on hosts whose
 * only weight is BFQ's, blkio.bfq.weight (v1); io.weight or io.bfq.weight (v2). guardian does
 * this itself rather than through the OCI config because crun writes only blkio.weight, which
 * hosts without CFQ (every kernel since 5.0) do not have. */
int gd_cgroup_set_io_weight(pid_t pid, uint16_t weight, struct gdn_err **err);

/* Whether this host can weight containers' block IO at all (guardian's own blkio cgroup has a
 * weight file, or the unified hierarchy an io controller): checked at start-up when a
 * --default-container-blockio-weight is set, so that it fails there rather than every create. */
int gd_cgroup_check_io_weight(struct gdn_err **err);

/* /proc/<pid>/cgroup (malloc'd); -ESRCH when the process is gone. */
int gd_cgroup_read_of(pid_t pid, char **ret, struct gdn_err **err);
/* The directory, under `mounts`, of the cgroup that `proc_cgroup` (a /proc/<pid>/cgroup text)
 * names in the hierarchy of `wanted` (a v1 controller, or "" for the unified one); malloc'd, or
 * NULL if none is mounted. *ret_unified (may be NULL) tells which kind it was. A container's
 * @init leaf stands for the container's cgroup, its parent. */
char *gd_cgroup_dir_in(const struct gd_mounts *mounts, const char *proc_cgroup, const char *wanted,
		       bool *ret_unified);
/* Whether a cgroup directory is the container's own, garden/<handle>, or a leaf below it: a
 * pid the registry knows may since have exited (on v1 a zombie shows the root cgroups) or been
 * reused by an unrelated process. */
bool gd_cgroup_is_container(const char *dir, const char *handle);
/* The file holding the OOM-kill counter of the memory cgroup of `pid` (memory.oom_control on
 * v1, memory.events in the unified hierarchy on v2), malloc'd. The cgroup must be the
 * container's, garden/<handle>: -ENOENT otherwise, as for an init that has exited (on v1 a
 * zombie's /proc/<pid>/cgroup shows the root cgroups) or whose pid was reused. */
int gd_cgroup_oom_file(pid_t pid, const char *handle, char **ret, struct gdn_err **err);
