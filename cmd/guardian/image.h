/* Local images for the built-in volumizer: an OCI image layout (`oci:///path[:tag]`) or a
 * `docker save` archive (`docker-archive:///path.tar`). Nothing is ever fetched: both are files
 * on this host. Reading one yields its layers (bottom first, each named by its diff_id, the
 * sha256 of its uncompressed tar, which the layer store checks while unpacking) and the image
 * config's Env, User and WorkingDir. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <jansson.h>
#include "lib/err.h"

/* Where create leaves the image config's User and WorkingDir: annotations of the container's
 * config.json, read with it at create and restore, the defaults of its processes. */
#define GD_ANNOTATION_IMAGE_USER "org.cloudfoundry.garden-c.image.user"
#define GD_ANNOTATION_IMAGE_WORKDIR "org.cloudfoundry.garden-c.image.workdir"

struct gd_layout_layer {
	char *diff_id; /* "sha256:<64 hex>" */
	char *blob;    /* OCI: the blob file */
	char *member;  /* docker archive: the member holding the layer tar */
};

struct gd_layout {
	char *archive; /* docker archive: its path (the layers' source); NULL for OCI */
	struct gd_layout_layer *layers;
	size_t n_layers; /* bottom first */
	json_t *env;	 /* the config's Env (an array of strings), or NULL */
	char *user;	 /* the config's User, or NULL */
	char *workdir;	 /* the config's WorkingDir, or NULL */
};

/* Whether `uri` names an image (oci:// or docker-archive://) rather than a rootfs directory. */
static inline bool gd_layout_is_uri(const char *uri)
{
	return uri &&
	       (strncmp(uri, "oci://", 6) == 0 || strncmp(uri, "docker-archive://", 17) == 0);
}

/* Reads the image `uri` names. Errors name the file and what is wrong with it. */
int gd_layout_read(const char *uri, struct gd_layout *ret, struct gdn_err **err);

void gd_layout_free(struct gd_layout *img);
