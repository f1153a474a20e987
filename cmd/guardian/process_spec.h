/* Decoding a Run request body (garden ProcessSpec, protocol §9.2) and turning it into the OCI
 * process the runtime execs (internals §8). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include "lib/err.h"
#include "cmd/guardian/users.h"

struct gd_process_spec {
	char *id; /* validated; generated UUIDv4 when the spec had none */
	char *path;
	char **args; /* NULL-terminated, may be empty */
	char **env;  /* NULL-terminated, may be empty */
	char *dir;   /* "" = the user's home */
	char *user;  /* "" = root */
	bool tty;
	bool pea;	     /* image.uri is set: the process runs in a rootfs of its own (pea.h) */
	uint32_t rows, cols; /* 0 = default */
	json_t *rlimits;     /* OCI rlimits array */
};

int gd_process_spec_parse(const char *body, size_t len, struct gd_process_spec *ret,
			  struct gdn_err **err);
void gd_process_spec_free(struct gd_process_spec *s);

/* The OCI process: args = [path] + args; env = container env + spec env (+ PATH and USER if
 * absent); the user's ids and groups; cwd; the container's capabilities (for a non-root user
 * restricted to Garden's unprivileged set plus SYS_ADMIN, none effective); rlimits; terminal
 * and console size (80x24 by default). `config` is the container's config.json. */
json_t *gd_process_oci(const json_t *config, const struct gd_process_spec *spec,
		       const struct gd_user *user, const char *cwd);
