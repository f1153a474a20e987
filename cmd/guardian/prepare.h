/* Start-up preparation of the paths guardian and its containers use. */
#pragma once

#include "lib/err.h"
#include "cmd/guardian/config.h"

/* Creates the depot (0755) and store (0755), resolves them and --default-rootfs to real paths,
 * and checks that the depot and store are reachable by an unprivileged container's root (o+x on
 * every directory above them): the runtime resolves the rootfs and the init binary as that
 * user. --init-bin is copied into <store>/bin/garden-init (replaced atomically when its content
 * changed), so that its own location need not be reachable. On success cfg points at static
 * buffers holding the resolved paths. */
int gd_prepare_paths(struct gd_config *cfg, struct gdn_err **err);
