/* Peas (internals §8, protocol §9.2): a Run whose ProcessSpec has an image runs in an OCI
 * container of its own — its own rootfs and mount namespace — joined to the sandbox's network,
 * IPC, PID and UTS namespaces (and its user namespace when unprivileged), with the sandbox's
 * /etc/hosts and /etc/resolv.conf. Its process dir <depot>/<handle>/processes/<id> is its
 * bundle (lib/depot.h); dadoo starts it with `<runtime> run` under the process id, so Wait,
 * Attach, stdio, TTY and signals are an ordinary process's. Its cgroup is garden/<handle>/<id>
 * (inside the sandbox's: its limits are shared) or, with ProcessSpec.limits, garden/<handle>@<id>
 * with only those limits. Synchronous: run in workers. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include "lib/err.h"
#include "lib/log.h"
#include "cmd/guardian/config.h"
#include "cmd/guardian/container.h"
#include "cmd/guardian/process_spec.h"

/* The pea's cgroup, relative as in config.json (without v2's leading '/'); buf of
 * GD_PEA_CGROUP_MAX bytes. */
#define GD_PEA_CGROUP_MAX (2 * GDN_HANDLE_MAX + 16)
void gd_pea_cgroup(const char *handle, const char *id, bool own, char *buf);

/* Makes the pea's process dir `procdir` (in the container dir's processes/; an existing one is
 * "process ID already in use"), its rootfs (`image`: the image, bind mounts and limits
 * from gd_pea_spec_parse), and its bundle config.json with the process (also in process.json)
 * of `spec`: the user ("uid:gid", a name from the pea's own /etc/passwd, or root), the working
 * dir (default "/"), the env of the spec after the image's. `init` is the sandbox's init.
 * *ret_uid and *ret_gid: the user's host ids (for its stdio). On failure nothing is left. */
int gd_pea_prepare(const struct gd_config *cfg, const char *handle, pid_t init,
		   const struct gd_process_spec *spec, const struct gd_create_spec *image,
		   bool own_limits, const char *procdir, uid_t *ret_uid, gid_t *ret_gid,
		   struct gdn_log *log, struct gdn_err **err);

/* Removes what makes the pea at `procdir` run: its runtime container (only if the runtime's
 * container of that id is this bundle), its own cgroup, its rootfs (unmounted; the image
 * plugin's delete or the built-in volume) and its bundle. With `all` the process dir goes
 * too; else its dadoo's files (exit status, logs) stay for Attach. Idempotent. */
int gd_pea_remove(const struct gd_config *cfg, const char *handle, const char *procdir, bool all,
		  struct gdn_log *log, struct gdn_err **err);

/* Whether `procdir` is (or was being made into) a pea's. */
bool gd_pea_is(const char *procdir);

/* gd_pea_remove of every pea of the container at `dir` (destroy, after the sandbox's init is
 * dead: the peas died with its PID namespace). The first failure is returned, after trying
 * them all. */
int gd_pea_remove_all(const struct gd_config *cfg, const char *handle, const char *dir,
		      struct gdn_log *log, struct gdn_err **err);

/* --- pea_watch.c: in guardian's loop ------------------------------------------------------ */
struct gd_server;
/* Watches the running pea at `procdir` (its process `pid`): when it exits, a worker removes
 * its rootfs, runtime container and cgroup (gd_pea_remove, the process dir's exit status
 * kept). A pid already gone is cleaned up at once. */
void gd_pea_watch(struct gd_server *s, const char *handle, const char *procdir, pid_t pid);
/* A worker running gd_pea_remove (all: the process dir too), unless the container is gone or
 * being destroyed (destroy removes its peas itself). With a waiting client c, it is answered
 * `reply` (taken) once the pea is gone, so that a failed Run has changed nothing when it hears. */
struct gd_conn;
void gd_pea_cleanup(struct gd_server *s, struct gd_conn *c, const char *handle, const char *procdir,
		    bool all, struct gdn_err *reply);
/* Start-up: watches the restored container's running peas and cleans up those that exited
 * while guardian was down. */
void gd_pea_restore(struct gd_server *s, const char *handle);
