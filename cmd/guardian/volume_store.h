/* Container volumes in the store, their project quotas and their disk usage (volume_store.c). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include "lib/err.h"
#include "lib/log.h"
#include "cmd/guardian/config.h"
#include "cmd/guardian/quota.h"

/* <store>/volumes: one directory per container volume */
#define GD_VOLUME_STORE_DIR "volumes"
/* The file in <dir>/volume that records where the volume is (<store>/volumes/<handle>). */
#define GD_VOLUME_PATH "path"
/* The file in <dir>/volume that records the image's size: "<bytes> <inodes>\n". */
#define GD_VOLUME_IMAGE "image"
/* Inodes a volume holds before the container writes anything: its dir, upper, work and the
 * work/work dir overlayfs makes at mount; an inode limit gets them on top. */
#define GD_VOLUME_OVERHEAD_INODES 4

/* The name of the volume of the container (or pea) whose dir is `dir` (malloc'd; NULL: no
 * memory): the handle, its last component; for a pea's process dir <depot>/<handle>/processes/
 * <id>, "<handle>@<id>" ('@' is in no handle or process id, so no two names meet). */
#define GD_VOLUME_PEA_SEP "@"
char *gd_volume_name(const char *dir);

/* <store>/volumes/<handle> (malloc'd; NULL: no memory). */
char *gd_volume_store_path(const struct gd_config *cfg, const char *handle);

/* Makes the (empty) volume of the container at `dir` (<handle>: its last component) and its
 * records in <dir>/volume/, and returns its path (malloc'd). `lowers` (one per line, top first)
 * is sized for a total-scope limit. On a store with project quotas the volume gets a project
 * id of its own and `disk` (may be NULL: none) as the project's limits; a limit on a store
 * without them is refused before anything is made, as is a total-scope limit smaller than the
 * image (Garden's message). A volume left by a crash under the same handle is removed first. */
int gd_volume_store_prepare(const struct gd_config *cfg, const char *dir, const char *lowers,
			    const struct gd_disk_limits *disk, struct gdn_log *log, char **ret_vol,
			    struct gdn_err **err);

/* Where the container at `dir` keeps its upper and work dirs (malloc'd): the recorded volume,
 * or <dir>/volume for a container made before the volumes moved to the store. */
int gd_volume_of(const char *dir, char **ret, struct gdn_err **err);

/* Removes the volume of `handle` from the store and frees its project id (the limits are
 * cleared first). Nothing there is success. */
int gd_volume_remove(const struct gd_config *cfg, const char *handle, struct gdn_log *log,
		     struct gdn_err **err);

/* Whether a container of the depot, or a pea of one, records `path` as one of its lowerdirs
 * (<dir>/volume/lowerdir). A record that cannot be read counts as a use: collecting what a
 * container still runs on would break it. */
bool gd_volume_lower_recorded(const char *depot, const char *path);

/* Start-up: removes every volume of the store whose container dir is gone from the depot (a
 * crash between create's or destroy's steps) and every project id record whose volume is gone
 * or has another id. Failures are only logged. */
void gd_volume_sweep(const struct gd_config *cfg, struct gdn_log *log);

/* Garden's ContainerDiskStat. Exclusive: what the container wrote (its project's quota usage;
 * on a store without project quotas, its upper dir walked as du does); total: that plus the
 * image (its apparent size, as grootfs counts a volume). `sizes` (may be NULL): what images
 * (by lowerdir) measured before, which the image's size is taken from and added to, so that a
 * walk of an image's layers happens once, not once per container and request. */
struct gd_disk_stat {
	uint64_t total_bytes, total_inodes;
	uint64_t exclusive_bytes, exclusive_inodes;
};
int gd_volume_disk_stat(const struct gd_config *cfg, const char *dir, json_t *sizes,
			struct gd_disk_stat *ret, struct gdn_err **err);
/* The images `sizes` remembers at most (it starts over beyond). */
#define GD_IMAGE_SIZES_MAX 1024
