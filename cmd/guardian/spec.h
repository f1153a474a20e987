/* Decoding a Create request body (garden ContainerSpec, protocol §9.1) through lib/gojson (Go's
 * decoder rules and messages), plus guardian's own validation. Errors change nothing. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lib/err.h"
#include "cmd/guardian/config.h"
#include "cmd/guardian/container.h"

/* On success *ret is filled (free with gd_spec_free) and *ret_grace_ns is the effective grace
 * time (the spec's, else the server default). spec->properties includes garden.grace-time when
 * the grace time is non-zero. */
int gd_spec_parse(const struct gd_config *cfg, const char *body, size_t len,
		  struct gd_create_spec *ret, uint64_t *ret_grace_ns, struct gdn_err **err);
void gd_spec_free(struct gd_create_spec *s);

/* A pea's image, bind mounts and limits (ProcessSpec.image, .bind_mounts, .limits: protocol
 * §9.2) as a create spec for its rootfs and bundle: handle = the process id `id`, privileged =
 * the sandbox's, the rootfs resolved as a container's (built-in volumizer or image plugin).
 * *ret_own_limits: ProcessSpec.limits was there (Garden's OverrideContainerLimits: a cgroup
 * of its own with only those limits). */
int gd_pea_spec_parse(const struct gd_config *cfg, const char *body, size_t len, bool privileged,
		      const char *id, struct gd_create_spec *ret, bool *ret_own_limits,
		      struct gdn_err **err);
