/* The OCI runtime config (config.json) guardian writes for a container (internals §4.2). */
#pragma once

#include <stdbool.h>
#include <jansson.h>
#include "lib/err.h"
#include "cmd/guardian/config.h"
#include "cmd/guardian/container.h"
#include "cmd/guardian/imageplugin.h"

/* Facts about the host that change the config; probed once per create. */
struct gd_bundle_host {
	bool cgroup_v1;	 /* cgroup v1 controllers are mounted (legacy or hybrid layout) */
	bool swap_limit; /* a swap limit can be set: v2, or v1 with memory.memsw.limit_in_bytes */
};

/* Annotations guardian records in config.json (read back by gd_bundle_read_limits etc.). */
#define GD_ANNOTATION_PRIVILEGED "org.cloudfoundry.garden.privileged"
#define GD_ANNOTATION_DISK_BYTE_HARD "org.cloudfoundry.garden.disk-byte-hard"
/* Only when the limit exceeds INT64_MAX and config.json holds INT64_MAX instead. */
#define GD_ANNOTATION_MEMORY_LIMIT "org.cloudfoundry.garden.memory-limit-in-bytes"
#define GD_ANNOTATION_CPU_SHARES "org.cloudfoundry.garden.cpu-limit-in-shares"

/* Longest hostname Garden sets: longer handles keep their last 49 characters. */
#define GD_HOSTNAME_MAX 49

void gd_bundle_host_probe(struct gd_bundle_host *ret);

/* Builds the config for `spec` whose depot dir is `dir` (<depot>/<handle>): root.path is
 * <dir>/rootfs, /etc/hosts and /etc/resolv.conf are binds of <dir>/hosts and <dir>/resolv.conf.
 * Privileged containers get every known capability in cfg->cap_bounding. */
json_t *gd_bundle_config(const struct gd_config *cfg, const struct gd_create_spec *spec,
			 const char *dir, const struct gd_bundle_host *host, struct gdn_err **err);
/* The same for a container whose rootfs an image plugin made: root.path is the image's, its
 * mounts come before guardian's and its env before the spec's. image NULL: gd_bundle_config. */
json_t *gd_bundle_config_image(const struct gd_config *cfg, const struct gd_create_spec *spec,
			       const char *dir, const struct gd_bundle_host *host,
			       const struct gd_image *image, struct gdn_err **err);

/* Writes <dir>/config.json (0600) atomically. */
int gd_bundle_write(const char *dir, const json_t *config, struct gdn_err **err);

/* Reads <dir>/config.json. */
int gd_bundle_read(const char *dir, json_t **ret, struct gdn_err **err);

/* The limits recorded in a config (linux.resources plus the disk annotation). */
void gd_bundle_limits(const json_t *config, struct gd_limits *ret);

/* Whether the config is of a privileged container (no user namespace). */
bool gd_bundle_privileged(const json_t *config);
