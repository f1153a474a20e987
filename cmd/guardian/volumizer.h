/* The built-in volumizer: one overlay mount per container at <dir>/rootfs over the base rootfs
 * (privileged) or a uid/gid-shifted copy of it (unprivileged), cached in the store. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include "lib/err.h"
#include "lib/log.h"
#include "cmd/guardian/config.h"
#include "cmd/guardian/quota.h"
#include "cmd/guardian/volume_store.h"

/* Host id of container id `cid` under Garden's mapping (0 -> maxid; 1..length -> start..).
 * Ids outside the mapping (which the container would see as the overflow id) become maxid, so
 * the shifted copy holds no file the container cannot see as owned by some mapped user. */
uint32_t gd_idmap_host(uint32_t maxid, uint32_t start, uint32_t length, uint32_t cid);

/* Prepares the container's volume in the store (gd_volume_store_prepare: <store>/volumes/
 * <handle>/{upper,work}, <handle> the last component of `dir`, with `disk`'s limits, may be
 * NULL), records its lowerdir in <dir>/volume/ and mounts the overlay at <dir>/rootfs. `base`
 * is the base rootfs directory; it is never written. Unprivileged containers get the shifted
 * copy of `base` as lowerdir, built once per (realpath of base, mapping) in
 * <cfg->store>/shifted/<key>/ under an flock, and rebuilt when base's root directory stat
 * (dev, ino, mtime, ctime) changes. */
int gd_volume_create(const struct gd_config *cfg, const char *dir, const char *base,
		     bool privileged, const struct gd_disk_limits *disk, struct gdn_log *log,
		     struct gdn_err **err);

/* The same over image layers (`lowers`: their dirs, top first, NULL-terminated): the merged
 * root belongs to the container's root (host 0, or maxid when unprivileged), mode 0755. */
int gd_volume_create_layers(const struct gd_config *cfg, const char *dir, char *const *lowers,
			    bool privileged, const struct gd_disk_limits *disk, struct gdn_log *log,
			    struct gdn_err **err);

/* Ensures the shifted copy of `base` exists and returns its path (malloc'd). Takes and releases
 * the store lock; exposed for tests. */
int gd_volume_shifted(const struct gd_config *cfg, const char *base, struct gdn_log *log,
		      char **ret_path, struct gdn_err **err);

/* The file in <dir>/volume that records the overlay's lowerdirs, one per line, top first. */
#define GD_VOLUME_LOWERDIR "lowerdir"

/* Mounts the volume of the container at `dir` (its recorded lowerdir, its upper and work dirs
 * in the store; those in <dir>/volume for a container made before the volumes moved there)
 * at `target`, in the caller's mount namespace: how a stopped container's files are reached
 * once its own mount namespace is gone. The container must not be running (overlay forbids
 * two live mounts of one upperdir). */
int gd_volume_mount(const char *dir, const char *target, struct gdn_err **err);

/* Detaches <dir>/rootfs from guardian's mount namespace once the container runs: its own mount
 * namespace holds the overlay from then on. Every mount left in the host namespace is copied
 * into every new container's mount namespace and read by the runtime from mountinfo, so 200
 * rootfs mounts there doubled a bare runc create (20 -> 43 ms). Failure is only logged. */
void gd_volume_detach(const char *dir, struct gdn_log *log);

/* Unmounts every mount at or below `dir` (per /proc/self/mountinfo), deepest first. EBUSY is
 * retried a few times, then the mount is detached (MNT_DETACH) and that is logged. A missing
 * `dir` is success. */
int gd_volume_unmount_all(const char *dir, struct gdn_log *log, struct gdn_err **err);
