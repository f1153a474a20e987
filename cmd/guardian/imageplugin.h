/* guardian's side of image-plugin-shim (image-plugin-shim(8)): the image plugin calls of
 * internals §10, one blocking request each, from a worker process. The plugin's stderr comes
 * back in the reply and is re-logged under the worker's session (Garden's relogger), so it
 * reaches guardian's log even when the shim runs elsewhere (BPM). A shim that guardian is
 * restarting is waited for (a few seconds), so a create that meets the restart succeeds. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include "lib/err.h"
#include "lib/imageplugin.h"
#include "lib/log.h"
#include "cmd/guardian/config.h"

#define GD_IMAGEPLUGIN_CONNECT_WAIT_MS 10000

/* What a plugin's create gives (Garden uses these three fields of the runtime spec). */
struct gd_image {
	char *rootfs;	/* root.path: the container's root (absolute) */
	char **env;	/* process.env, NULL-terminated: before the spec's env */
	json_t *mounts; /* mounts (an array of OCI mounts): before guardian's own */
};
void gd_image_free(struct gd_image *im);

/* Decodes create's stdout as Go's json.Unmarshal into a runtime spec would (lib/gojson), and
 * checks what the bundle needs: an absolute root.path, mounts with absolute destinations and a
 * type. Errors read "parsing image plugin create: <stdout>: <why>", -EINVAL. */
int gd_image_parse(const char *out, size_t len, struct gd_image *ret, struct gdn_err **err);

/* The create, delete, stats and capacity of a plugin (kind: which one). The request's fields
 * are those of lib/imageplugin.h; errors are the shim's (Garden's wording), or say that the
 * shim could not be reached. */
int gd_imageplugin_create(const struct gd_config *cfg, const struct gdn_imageplugin_request *req,
			  struct gd_image *ret, struct gdn_log *log, struct gdn_err **err);
int gd_imageplugin_delete(const struct gd_config *cfg, enum gdn_imageplugin_kind kind,
			  const char *handle, struct gdn_log *log, struct gdn_err **err);
/* disk_usage.total_bytes_used and exclusive_bytes_used (Garden's ContainerDiskStat). */
int gd_imageplugin_stats(const struct gd_config *cfg, enum gdn_imageplugin_kind kind,
			 const char *handle, uint64_t *ret_total, uint64_t *ret_exclusive,
			 struct gdn_log *log, struct gdn_err **err);
int gd_imageplugin_capacity(const struct gd_config *cfg, uint64_t *ret, struct gdn_log *log,
			    struct gdn_err **err);
/* Parses stats' and capacity's stdout as Garden does (a map of uint64s). */
int gd_imageplugin_parse_stats(const char *out, size_t len, uint64_t *ret_total,
			       uint64_t *ret_exclusive, struct gdn_err **err);
int gd_imageplugin_parse_capacity(const char *out, size_t len, uint64_t *ret, struct gdn_err **err);

/* The plugins the shim holds (its ping): have[kind]. */
int gd_imageplugin_ping(const struct gd_config *cfg, bool have[2], struct gdn_err **err);
