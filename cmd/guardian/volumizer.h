/* The built-in volumizer: one overlay mount per container at <dir>/rootfs over the base rootfs
 * (privileged) or a uid/gid-shifted copy of it (unprivileged), cached in the store. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include "lib/err.h"
#include "lib/log.h"
#include "cmd/guardian/config.h"

/* Host id of container id `cid` under Garden's mapping (0 -> maxid; 1..length -> start..).
 * Ids outside the mapping (which the container would see as the overflow id) become maxid, so
 * the shifted copy holds no file the container cannot see as owned by some mapped user. */
uint32_t gd_idmap_host(uint32_t maxid, uint32_t start, uint32_t length, uint32_t cid);

/* Prepares <dir>/volume/{upper,work} and <dir>/rootfs and mounts the overlay there. `base` is
 * the base rootfs directory; it is never written. Unprivileged containers get the shifted copy
 * of `base` as lowerdir, built once per (realpath of base, mapping) in
 * <cfg->store>/shifted/<key>/ under an flock, and rebuilt when base's root directory stat
 * (dev, ino, mtime, ctime) changes. */
int gd_volume_create(const struct gd_config *cfg, const char *dir, const char *base,
		     bool privileged, struct gdn_log *log, struct gdn_err **err);

/* Ensures the shifted copy of `base` exists and returns its path (malloc'd). Takes and releases
 * the store lock; exposed for tests. */
int gd_volume_shifted(const struct gd_config *cfg, const char *base, struct gdn_log *log,
		      char **ret_path, struct gdn_err **err);

/* Unmounts every mount at or below `dir` (per /proc/self/mountinfo), deepest first. EBUSY is
 * retried a few times, then the mount is detached (MNT_DETACH) and that is logged. A missing
 * `dir` is success. */
int gd_volume_unmount_all(const char *dir, struct gdn_log *log, struct gdn_err **err);
