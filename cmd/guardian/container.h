/* Synchronous container operations. guardian runs each in a forked worker process so that the
 * event loop never blocks; they talk only to the filesystem (depot, store), the kernel (mounts)
 * and the runtime binary, never to guardian's in-memory state. Each is safe to re-run after a
 * crash at any point (create's undo is destroy). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include "lib/depot.h"
#include "lib/err.h"
#include "lib/log.h"
#include "cmd/guardian/config.h"
#include "cmd/guardian/network.h"

struct gd_limits {
	uint64_t memory_bytes;	  /* memory_limits.limit_in_bytes; 0 = none */
	uint64_t cpu_shares;	  /* cpu_limits.weight if > 0 else limit_in_shares; 0 = none */
	uint64_t pids_max;	  /* pid_limits.max; 0 = unlimited */
	uint64_t disk_byte_hard;  /* disk_limits.byte_hard; 0 = none (project quota) */
	uint64_t disk_inode_hard; /* disk_limits.inode_hard; 0 = none */
	bool disk_exclusive;	  /* disk_limits.scope 1: the image does not count */
};

struct gd_bind_mount {
	char *src;
	char *dst;
	bool rw;
};

struct gd_create_spec {
	char *handle;	 /* validated */
	char *rootfs;	 /* absolute host directory of the base rootfs (resolved, exists), an image
			  * URI for the built-in volumizer (gd_layout_is_uri: oci://,
			  * docker-archive://), or NULL when an image plugin makes the
			  * rootfs from image_uri */
	char *image_uri; /* for the image plugin: image.uri or rootfs or --default-rootfs */
	char *image_username, *image_password; /* image.username, image.password */
	char **env;			       /* NULL-terminated "K=V" */
	bool privileged;
	struct gd_limits limits;
	struct gd_bind_mount *bind_mounts;
	size_t n_bind_mounts;
	json_t *properties; /* initial properties (object), including garden.grace-time */
	struct gd_net_spec net;
};

/* Empty file in the container dir, written atomically as create's very last step: the only
 * record that a create completed (start-up restore undoes a container without it, except an
 * old depot's whose properties.json says garden.state=created). */

/* <depot>/<handle>: the container's directory (malloc'd). */
char *gd_container_dir(const struct gd_config *cfg, const char *handle);

/* Creates the depot dir (fails with "Handle '<h>' already in use" if present), writes
 * properties.json (spec->properties, without garden.state), mounts the rootfs volume, writes the
 * OCI bundle, starts the container with `<runtime> run --detach`, sets up its network
 * (*ret_props: the properties it adds, also written to properties.json) and, last, writes the
 * `created` marker (GDN_DEPOT_CREATED). On any failure it undoes
 * everything it did (as gd_container_destroy) before returning the error. */
int gd_container_create(const struct gd_config *cfg, const struct gd_create_spec *spec,
			json_t **ret_props, struct gdn_log *log, struct gdn_err **err);

/* The rootfs of `spec` in `dir` — the image plugin's (its record in dir first), an OCI image's
 * layers or the base directory under the built-in volumizer's overlay — and the OCI config
 * over it (*ret_config, not written; the image config's env, user and working dir applied).
 * Create's first half, shared with peas (dir is then the pea's process dir). The undo of a
 * failure is the caller's (the volume's records are in dir). */
struct gd_bundle_host;
int gd_container_rootfs(const struct gd_config *cfg, const struct gd_create_spec *spec,
			const char *dir, const struct gd_bundle_host *host, json_t **ret_config,
			struct gdn_log *log, struct gdn_err **err);

/* The image plugin's delete of `handle`, when one made the rootfs in `dir` (its record there,
 * removed once the delete succeeded, so that a retried destroy does not run it again). */
int gd_container_delete_image(const struct gd_config *cfg, const char *handle, const char *dir,
			      struct gdn_log *log, struct gdn_err **err);

/* Kills every process, deletes the container from the runtime, unmounts the volume and removes
 * the depot dir. Idempotent; a missing depot dir is ContainerNotFoundError. Writes a `destroying`
 * marker first so that a crash mid-way is finished at the next start-up. */
int gd_container_destroy(const struct gd_config *cfg, const char *handle, struct gdn_log *log,
			 struct gdn_err **err);

/* Stop(kill) (internals §5.2): signals every process in the container except init; SIGTERM with
 * 1 s re-checks for up to 10 s then SIGKILL, or SIGKILL at once when kill is true. */
int gd_container_stop(const struct gd_config *cfg, const char *handle, bool kill,
		      struct gdn_log *log, struct gdn_err **err);

/* A CLOEXEC pidfd pinning the pid in `pidfile` (may be NULL), or -1 unless that process is in
 * the container's cgroup (garden/<handle>, or one below it: a pea's): a stale pidfile (after a
 * host reboot, or a shim that died long ago) must never get an unrelated process killed.
 * *ret_pid (may be NULL). */
int gd_container_pidfd(const char *pidfile, const char *handle, pid_t *ret_pid);

/* Writes <dir>/properties.json (the container's properties, an object) atomically. */
int gd_props_write(const char *dir, const json_t *props, struct gdn_err **err);

/* Reads limits back from <depot>/<handle>/config.json (for the limits getters). */
int gd_container_limits(const struct gd_config *cfg, const char *handle, struct gd_limits *ret,
			struct gdn_err **err);

/* Reads the full capability bounding set of this process (for privileged containers). */
int gd_caps_bounding(uint64_t *ret, struct gdn_err **err);
