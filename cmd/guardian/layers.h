/* The content-addressed layer store of the built-in volumizer:
 *
 *   <store>/layers/.lock              flock: shared while a create unpacks and records its
 *                                      layers, exclusive while the collector runs
 *   <store>/layers/<hex>/             a layer unpacked for privileged containers (owners as in
 *                                      the tar); <hex> is its diff_id's
 *   <store>/layers/<hex>-<key>/       the same layer with owners shifted for unprivileged ones
 *                                      (<key>: the uid/gid mapping), so the shift is done once
 *   <store>/layers/<name>.lock        flock held while that layer is unpacked
 *   <store>/layers/tmp.<name>.XXXXXX/ an unpack in progress (renamed into place when its digest
 *                                      matched the diff_id; removed when found stale)
 * Unpacking runs `guardian unpack-layer` chrooted into the new directory (unpack.c). */
#pragma once

#include <stdbool.h>
#include "lib/err.h"
#include "lib/log.h"
#include "cmd/guardian/config.h"
#include "cmd/guardian/image.h"

/* Unpacks every layer of `img` not in the store yet and returns their directories, top first
 * (overlay's lowerdir order), NULL-terminated, in *ret_dirs (free with gd_layers_free). On
 * success *ret_lock_fd holds the store's shared lock: keep it until the container's lowerdir
 * is recorded, so that no collection runs in between. */
int gd_layers_ensure(const struct gd_config *cfg, const struct gd_layout *img, bool privileged,
		     char ***ret_dirs, int *ret_lock_fd, struct gdn_log *log, struct gdn_err **err);

void gd_layers_free(char **dirs);

/* Removes every layer no container records in its volume's lowerdir, and stale unpacks.
 * *ret_removed counts the layers removed. */
int gd_layers_collect(const struct gd_config *cfg, unsigned *ret_removed, struct gdn_log *log,
		      struct gdn_err **err);
