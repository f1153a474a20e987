/* `guardian setup`'s store: a loop-backed XFS file system mounted with project quotas at
 * --store, as grootfs's init-store makes it, so that disk limits can be enforced. */
#pragma once

#include <stdint.h>
#include "lib/err.h"
#include "lib/log.h"

/* grootfs's all-in-one store size */
#define GD_STORE_SIZE_DEFAULT (10ULL << 30)
/* mkfs.xfs refuses file systems under 300 MiB */
#define GD_STORE_SIZE_MIN (300ULL << 20)

/* Makes `store` a file system with project quotas unless it already is one: a sparse backing
 * file <store>.backing-store of `size` bytes (an existing one, an XFS file system, is mounted
 * again as it is), mkfs.xfs, a loop device (autoclear), mounted at `store` with prjquota and
 * noatime. Idempotent. On failure nothing it made is left (device, mount, new backing file). */
int gd_store_setup(const char *store, uint64_t size, struct gdn_log *log, struct gdn_err **err);
/* (-EOPNOTSUPP: this kernel's XFS has no quota support; nothing was made.) */

/* Undoes gd_store_setup: unmounts `store` if its backing file's loop device is mounted there,
 * unbinds that device and removes the backing file (the store's contents go with it). Nothing
 * to undo is success. */
int gd_store_teardown(const char *store, struct gdn_log *log, struct gdn_err **err);
