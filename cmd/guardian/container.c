/* The container backend: create, destroy, stop and limits on top of the depot, the built-in
 * volumizer and the OCI runtime binary (runc or crun).
 *
 * Depot layout (the list of containers is the list of entries in <depot>; nothing but container
 * dirs is ever created there):
 *
 *   <depot>/<handle>/          0755; created with mkdir (EEXIST: "Handle '<h>' already in use")
 *     properties.json          0600; JSON object string -> string. create writes the spec's
 *                              properties (without garden.state); guardian rewrites it atomically
 *     config.json              0600; the OCI runtime config (the bundle); annotations record
 *                              org.cloudfoundry.garden.{privileged,disk-byte-hard}
 *     pidfile                  init pid, written by the runtime
 *     create.log               the runtime's JSON log of `run` (--log ... --log-format json)
 *     hosts                    0644; "127.0.0.1 localhost\n::1 localhost\n127.0.0.1 <hostname>\n",
 *                              bind-mounted rw at /etc/hosts
 *     resolv.conf              0644; empty for now, bind-mounted rw at /etc/resolv.conf
 *                              (both owned by the container root's host uid/gid when
 *                              unprivileged)
 *     rootfs/                  overlay mount point: the container's root filesystem
 *     volume/                  the volume's records: lowerdir, path (of the volume in the
 *                              store), image (its size, for total-scope disk limits)
 *     destroying               empty marker written when destroy starts, so that a crash
 *                              mid-destroy can be finished at the next start-up
 *     image-plugin             "unprivileged" or "privileged": an image plugin makes (or
 *                              made) the rootfs; written before its create runs, so that
 *                              every destroy (create's undo too) runs its delete
 *   <store>/volumes/<handle>/  the volume: upper/ (the container's writes), work/; on a store
 *                              with project quotas, in a project of its own (volume_store.c)
 *   <store>/projectids/<id>    the handle that project id <id> belongs to (quota.c)
 *   <store>/shifted/...        shifted rootfs cache of unprivileged containers (volumizer.c)
 *
 * Runtime state lives in the runtime's root (runc: /run/runc/<handle>, crun: /run/crun/<handle>,
 * or --runtime-root). Cgroups are at garden/<handle> (relative cgroupsPath) in every hierarchy.
 *
 * Every path given to the runtime must be traversable by the container's root (host uid maxid)
 * for unprivileged containers: the depot, the init binary and bind-mount sources need o+x on
 * each parent directory. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include "lib/depot.h"
#include "lib/fs.h"
#include "lib/path.h"
#include "lib/proc.h"
#include "lib/util.h"
#include "cmd/guardian/bundle.h"
#include "cmd/guardian/cgroup.h"
#include "cmd/guardian/container.h"
#include "cmd/guardian/dadoo_client.h"
#include "cmd/guardian/image.h"
#include "cmd/guardian/layers.h"
#include "cmd/guardian/imageplugin.h"
#include "cmd/guardian/runtime.h"
#include "cmd/guardian/pea.h"
#include "cmd/guardian/users.h"
#include "cmd/guardian/volumizer.h"

#define STOP_TRIES 10
#define STOP_POLL_NS (50 * 1000 * 1000L)
#define STOP_POLLS_PER_TRY 20 /* 20 x 50 ms = the 1 s between re-checks */

char *gd_container_dir(const struct gd_config *cfg, const char *handle)
{
	return gdn_path_join(cfg->depot, handle);
}

/* ---- create -------------------------------------------------------------------------------- */

int gd_props_write(const char *dir, const json_t *props, struct gdn_err **err)
{
	_cleanup_free_ char *path = gdn_path_join(dir, GDN_DEPOT_PROPERTIES);
	_cleanup_free_ char *text = NULL;
	size_t len = 0;

	text = path ? gdn_json_line(props, &len) : NULL;
	if (!text || !json_is_object(props))
		return gdn_err_set(err, ENOMEM, "cannot write the properties");
	return gdn_fs_write_atomic(path, text, len, 0600, err);
}

/* The spec's properties, without garden.state. */
static int write_properties(const char *dir, const json_t *props, struct gdn_err **err)
{
	/* garden.state is reported by guardian, never stored: whether create completed is the
	 * `created` marker (GDN_DEPOT_CREATED). */
	json_auto_t *p = props ? json_deep_copy(props) : json_object();

	if (!p)
		return gdn_err_set(err, ENOMEM, "cannot write the properties");
	(void)json_object_del(p, "garden.state");
	return gd_props_write(dir, p, err);
}

static int write_owned(const char *dir, const char *name, const char *text, bool chown_root,
		       uid_t uid, gid_t gid, struct gdn_err **err)
{
	_cleanup_free_ char *path = gdn_path_join(dir, name);
	if (!path)
		return gdn_err_set(err, ENOMEM, "cannot write '%s'", name);
	int r = gdn_fs_write_atomic(path, text, strlen(text), 0644, err);
	if (r < 0)
		return r;
	if (chown_root && chown(path, uid, gid) < 0)
		return gdn_err_set(err, errno, "chown '%s'", path);
	return 0;
}

static int write_network_files(const struct gd_config *cfg, const struct gd_create_spec *spec,
			       const char *dir, struct gdn_err **err)
{
	const char *hostname = spec->handle;
	size_t len = strlen(hostname);
	if (len > GD_HOSTNAME_MAX)
		hostname += len - GD_HOSTNAME_MAX;
	_cleanup_free_ char *hosts = NULL;
	if (asprintf(&hosts, "127.0.0.1 localhost\n::1 localhost\n127.0.0.1 %s\n", hostname) < 0) {
		hosts = NULL;
		return gdn_err_set(err, ENOMEM, "cannot write the hosts file");
	}
	uid_t uid = gd_idmap_host(cfg->maxid, cfg->uid_map_start, cfg->uid_map_length, 0);
	gid_t gid = gd_idmap_host(cfg->maxid, cfg->gid_map_start, cfg->gid_map_length, 0);
	int r = write_owned(dir, GDN_DEPOT_HOSTS, hosts, !spec->privileged, uid, gid, err);
	if (r >= 0)
		r = write_owned(dir, GDN_DEPOT_RESOLV_CONF, "", !spec->privileged, uid, gid, err);
	return r;
}

/* The volume over the image's layers, unpacked into the store when they are not there yet. */
static int image_volume(const struct gd_config *cfg, const struct gd_create_spec *spec,
			const char *dir, struct gd_layout *img, const struct gd_disk_limits *disk,
			struct gdn_log *log, struct gdn_err **err)
{
	char **lowers = NULL;
	_cleanup_close_ int lock_fd = -1;

	int r = gd_layout_read(spec->rootfs, img, err);
	if (r < 0)
		return r;
	r = gd_layers_ensure(cfg, img, spec->privileged, &lowers, &lock_fd, log, err);
	if (r < 0)
		return r;
	/* the store stays locked (shared) until the lowerdirs are recorded: no collection in
	 * between can take a layer away */
	r = gd_volume_create_layers(cfg, dir, lowers, spec->privileged, disk, log, err);
	gd_layers_free(lowers);
	return r;
}

/* The image config's Env goes before the container's (as an image plugin's process.env does in
 * Garden); its User and WorkingDir become the defaults of the container's processes. */
static bool has_path(char *const *env, const json_t *jenv)
{
	json_t *v;
	size_t i;

	for (char *const *e = env; e && *e; e++)
		if (strncmp(*e, "PATH=", 5) == 0)
			return true;
	json_array_foreach (jenv, i, v)
		if (strncmp(json_string_value(v), "PATH=", 5) == 0)
			return true;
	return false;
}

static int apply_image_config(json_t *config, const struct gd_create_spec *spec,
			      const struct gd_layout *img, struct gdn_err **err)
{
	json_t *process = json_object_get(config, "process");
	json_t *env = json_object_get(process, "env");
	json_t *ann = json_object_get(config, "annotations");
	json_t *v;
	size_t i;

	if (!json_is_object(process) || !json_is_array(env))
		return gdn_err_set(err, EINVAL, "the bundle has no process env");
	/* the bundle's default PATH (first, when the spec has none) gives way to the image's */
	if (!has_path(spec->env, NULL) && has_path(NULL, img->env) &&
	    strncmp(json_string_value(json_array_get(env, 0)), "PATH=", 5) == 0)
		json_array_remove(env, 0);
	json_array_foreach (img->env, i, v)
		if (json_array_insert(env, i, v) < 0)
			return gdn_err_set(err, ENOMEM, "image env");
	if (!json_is_object(ann)) {
		ann = json_object();
		if (!ann || json_object_set_new(config, "annotations", ann) < 0)
			return gdn_err_set(err, ENOMEM, "image config");
	}
	if ((img->user &&
	     json_object_set_new(ann, GD_ANNOTATION_IMAGE_USER, json_string(img->user)) < 0) ||
	    (img->workdir &&
	     json_object_set_new(ann, GD_ANNOTATION_IMAGE_WORKDIR, json_string(img->workdir)) < 0))
		return gdn_err_set(err, ENOMEM, "image config");
	return 0;
}

static void image_free(struct gd_image *im)
{
	gd_image_free(im);
}

/* The image plugin's create (internals §10.2). The record of which plugin goes first: a create
 * that fails from here on, or a crash, ends in a destroy that runs that plugin's delete. */
static int create_image(const struct gd_config *cfg, const struct gd_create_spec *spec,
			const char *dir, struct gd_image *ret, struct gdn_log *log,
			struct gdn_err **err)
{
	enum gdn_imageplugin_kind kind =
	    spec->privileged ? GDN_IMAGEPLUGIN_PRIVILEGED : GDN_IMAGEPLUGIN_UNPRIVILEGED;
	_cleanup_free_ char *marker = gdn_path_join(dir, GDN_DEPOT_IMAGE_PLUGIN);
	const char *name = gdn_imageplugin_name(kind);
	const struct gdn_imageplugin_request req = {
	    .op = GDN_IMAGEPLUGIN_CREATE,
	    .plugin = kind,
	    .handle = spec->handle,
	    .rootfs = spec->image_uri,
	    .disk_limit = spec->limits.disk_byte_hard,
	    .exclude_image = spec->limits.disk_exclusive,
	    .username = spec->image_username,
	    .password = spec->image_password,
	};
	int r;

	if (!marker)
		return gdn_err_set(err, ENOMEM, "image plugin");
	if ((r = gdn_fs_write_atomic(marker, name, strlen(name), 0644, err)) < 0)
		return r;
	gdn_log_info(log, "image-plugin-create", "plugin", name, "rootfs", spec->image_uri, NULL);
	r = gd_imageplugin_create(cfg, &req, ret, log, err);
	if (r >= 0)
		gdn_log_info(log, "image-plugin-created", "rootfs", ret->rootfs, NULL);
	return r;
}

/* The bind mounts' mount points, made in the rootfs by guardian, confined to it (openat2
 * RESOLVE_IN_ROOT): the runtimes confine their own resolution too, but crun refuses a path
 * through a symlink whose target is missing where runc makes it, so that the same spec and
 * image work on both. */
static int bind_mountpoints(const struct gd_config *cfg, const struct gd_create_spec *spec,
			    const json_t *config, struct gdn_err **err)
{
	const char *root =
	    json_string_value(json_object_get(json_object_get(config, "root"), "path"));
	uid_t uid = spec->privileged ? 0 : cfg->maxid;
	gid_t gid = spec->privileged ? 0 : cfg->maxid;

	for (size_t i = 0; root && i < spec->n_bind_mounts; i++) {
		const struct gd_bind_mount *b = &spec->bind_mounts[i];
		struct stat st;
		int r;

		if (stat(b->src, &st) < 0)
			return gdn_err_kind(err, GDN_ERR_GENERIC, errno,
					    "bind mount source '%s' does not exist", b->src);
		r = gd_rootfs_mountpoint(root, b->dst, S_ISDIR(st.st_mode), uid, gid, err);
		if (r < 0)
			return gdn_err_wrap(err, "bind mount '%s'", b->dst);
	}
	return 0;
}

int gd_container_rootfs(const struct gd_config *cfg, const struct gd_create_spec *spec,
			const char *dir, const struct gd_bundle_host *host, json_t **ret_config,
			struct gdn_log *log, struct gdn_err **err)
{
	_cleanup_(gd_layout_free) struct gd_layout img = {0};
	_cleanup_(image_free) struct gd_image image = {0};
	bool layout = gd_layout_is_uri(spec->rootfs);
	const struct gd_disk_limits disk = {
	    spec->limits.disk_byte_hard, spec->limits.disk_inode_hard, spec->limits.disk_exclusive};
	json_auto_t *config = NULL;
	int r;

	if (spec->image_uri)
		r = create_image(cfg, spec, dir, &image, log, err);
	else if (layout)
		r = image_volume(cfg, spec, dir, &img, &disk, log, err);
	else
		r = gd_volume_create(cfg, dir, spec->rootfs, spec->privileged, &disk, log, err);
	if (r < 0)
		return r;
	config = gd_bundle_config_image(cfg, spec, dir, host, spec->image_uri ? &image : NULL, err);
	if (!config)
		return err && *err ? gdn_err_code(*err) : -ENOMEM;
	if (layout && (r = apply_image_config(config, spec, &img, err)) < 0)
		return r;
	/* an image plugin's rootfs may not be mounted yet (grootfs' skip_mount): the runtime
	 * makes its mount points there */
	if (!spec->image_uri && (r = bind_mountpoints(cfg, spec, config, err)) < 0)
		return r;
	*ret_config = json_incref(config);
	return 0;
}

/* Everything create does after the depot dir exists. */
static int create_in_dir(const struct gd_config *cfg, const struct gd_create_spec *spec,
			 const char *dir, json_t **ret_props, struct gdn_log *log,
			 struct gdn_err **err)
{
	struct gd_bundle_host host;
	json_auto_t *config = NULL;
	_cleanup_(gd_net_pending_settle) struct gd_net_pending net = {.sock = -1};

	gd_bundle_host_probe(&host);

	int r = write_properties(dir, spec->properties, err);
	if (r >= 0)
		r = write_network_files(cfg, spec, dir, err);
	/* kawasaki's allocation and rules go on beside the volume and the runtime */
	if (r >= 0)
		r = gd_network_prepare(cfg, spec->handle, &spec->net, &net, err);
	if (r >= 0)
		r = gd_container_rootfs(cfg, spec, dir, &host, &config, log, err);
	if (r < 0)
		return r;
	r = gd_bundle_write(dir, config, err);
	if (r < 0)
		return r;

	gdn_log_info(log, "starting-container", NULL);
	r = gd_runtime_run(cfg, spec->handle, dir, log, err);
	if (r < 0)
		return r;
	/* The runtime wrote the pidfile before `run --detach` returned; reading it saves a
	 * `state` exec (a Go binary's start-up: ~10 ms) on every create. */
	_cleanup_free_ char *pidfile = gdn_path_join(dir, GDN_DEPOT_PIDFILE);
	char text[16];
	pid_t pid = 0;
	r = pidfile ? gdn_pidfile_read(pidfile, &pid, err) : -ENOMEM;
	if (r < 0)
		return gdn_err_wrap(err, "read the container's pidfile");
	if (kill(pid, 0) < 0)
		return gdn_err_set(err, 0, "container init pid %d is not running", (int)pid);
	(void)snprintf(text, sizeof(text), "%d", (int)pid);
	gdn_log_info(log, "started-container", "pid", text, NULL);
	if (cfg->blockio_weight && (r = gd_cgroup_set_io_weight(pid, cfg->blockio_weight, err)) < 0)
		return r;
	if (!host.cgroup_v1 && (r = gd_cgroup_init_to_leaf(pid, spec->handle, err)) < 0)
		return r;
	/* the built-in volumizer's overlay only: a plugin's rootfs stays as the plugin made it */
	if (!spec->image_uri)
		gd_volume_detach(dir, log);
	/* Network, NetIn and NetOut of the spec before create returns, as in Garden; the
	 * properties it yields are durable before the container counts as created. */
	json_auto_t *net_props = NULL;
	r = gd_network_up(cfg, dir, spec->handle, pid, spec->properties, &spec->net, &net,
			  &net_props, log, err);
	if (r < 0)
		return r;
	json_auto_t *all = spec->properties ? json_deep_copy(spec->properties) : json_object();
	if (!all || json_object_update(all, net_props) < 0)
		return gdn_err_set(err, ENOMEM, "cannot write the properties");
	r = write_properties(dir, all, err);
	if (r < 0)
		return r;
	*ret_props = json_incref(net_props);
	/* The very last step: from here on the container is created, durably, whatever happens
	 * to this worker or to guardian. */
	_cleanup_free_ char *marker = gdn_path_join(dir, GDN_DEPOT_CREATED);
	if (!marker)
		return gdn_err_set(err, ENOMEM, "cannot mark '%s' created", spec->handle);
	return gdn_fs_write_atomic(marker, "", 0, 0644, err);
}

static int destroy_dir(const struct gd_config *cfg, const char *handle, const char *dir,
		       struct gdn_log *log, struct gdn_err **err);

int gd_container_create(const struct gd_config *cfg, const struct gd_create_spec *spec,
			json_t **ret_props, struct gdn_log *log, struct gdn_err **err)
{
	_cleanup_free_ char *dir = NULL;
	_cleanup_free_ char *real = NULL;
	_cleanup_err_ struct gdn_err *undo_err = NULL;

	int r = gdn_name_validate("handle", spec->handle, err);
	if (r < 0)
		return r;
	if (!spec->rootfs && !spec->image_uri)
		return gdn_err_set(err, EINVAL, "no rootfs given");
	r = gdn_fs_mkdir_p(cfg->depot, 0755, err);
	if (r < 0)
		return r;
	dir = gd_container_dir(cfg, spec->handle);
	if (!dir)
		return gdn_err_set(err, ENOMEM, "cannot create container '%s'", spec->handle);
	if (mkdir(dir, 0755) < 0) {
		if (errno == EEXIST)
			return gdn_err_kind(err, GDN_ERR_GENERIC, EEXIST,
					    "Handle '%s' already in use", spec->handle);
		return gdn_err_set(err, errno, "mkdir '%s'", dir);
	}

	/* The runtime rejects a root path through a symlink (Garden's default depot is under
	 * /var/run -> /run), so the bundle uses the resolved path. */
	real = realpath(dir, NULL);
	if (!real)
		r = gdn_err_set(err, errno, "realpath '%s'", dir);
	else if (chmod(real, 0755) < 0)
		r = gdn_err_set(err, errno, "chmod '%s'", real);
	if (r >= 0)
		r = create_in_dir(cfg, spec, real, ret_props, log, err);
	if (r >= 0)
		return 0;

	gdn_log_error(log, "create-failed-cleaning-up", err ? *err : NULL, NULL);
	if (destroy_dir(cfg, spec->handle, dir, log, &undo_err) < 0)
		gdn_log_error(log, "cleanup-failed", undo_err, NULL);
	return r;
}

/* ---- destroy ------------------------------------------------------------------------------- */

/* Hands `from` over to the caller's error slot (unless it already holds one). */
static int pass_err(struct gdn_err **err, struct gdn_err **from)
{
	int code = gdn_err_code(*from);
	if (err && !*err)
		*err = gdn_steal_ptr(from);
	return code;
}

/* Whether pid is (still) in the container's cgroup garden/<handle>. On cgroup v1 a zombie's
 * /proc/<pid>/cgroup shows the root cgroups, so an init that exited during a stop (a destroy,
 * an OOM) would make its "cgroup.procs" every process on the host, and stop would SIGTERM and
 * SIGKILL them all: every pid is checked before it is signalled. */
static bool in_container_cgroup(pid_t pid, const char *handle)
{
	_cleanup_free_ char *cgroups = NULL;
	char path[64], needle[2 * GDN_HANDLE_MAX + 16];
	size_t len, n;

	(void)snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	n = (size_t)snprintf(needle, sizeof(needle), "/garden/%s\n", handle);
	if (gdn_fs_read_file(path, 65536, &cgroups, &len, NULL) < 0)
		return false;
	if (strstr(cgroups, needle))
		return true;
	/* or a cgroup below it: a pea's, garden/<handle>/<id> */
	needle[n - 1] = '/';
	return strstr(cgroups, needle) != NULL;
}

int gd_container_pidfd(const char *pidfile, const char *handle, pid_t *ret_pid)
{
	_cleanup_close_ int pidfd = -1;
	pid_t pid = 0;

	pidfd = pidfile ? gdn_pidfd_from_pidfile(pidfile, &pid) : -1;
	if (pidfd < 0 || !in_container_cgroup(pid, handle))
		return -1;
	if (ret_pid)
		*ret_pid = pid;
	return gdn_steal_fd(&pidfd);
}

/* A pidfd for the container's init (from the depot's pidfile), or -1. */
static int open_init_pidfd(const char *dir, const char *handle)
{
	_cleanup_free_ char *pidfile = gdn_path_join(dir, GDN_DEPOT_PIDFILE);

	return gd_container_pidfd(pidfile, handle, NULL);
}

/* Kills the init if the runtime's delete left it running (crun 1.8 does after an exec on a
 * cgroup v1 host), and waits up to 5 s for it to go: killing pid 1 of the container's pid
 * namespace kills every process in it. */
static int reap_init(int pidfd, const char *handle, struct gdn_log *log, struct gdn_err **err)
{
	struct pollfd pfd = {.fd = pidfd, .events = POLLIN};

	if (pidfd < 0 || poll(&pfd, 1, 0) == 1)
		return 0;
	gdn_log_info(log, "killing-init-left-by-runtime", NULL);
	(void)syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
	if (poll(&pfd, 1, 5000) != 1)
		return gdn_err_set(err, ETIMEDOUT, "init of '%s' survived SIGKILL", handle);
	return 0;
}

/* Deletes the container from the runtime. Fails if the runtime still knows it afterwards. */
static int delete_from_runtime(const struct gd_config *cfg, const char *handle, const char *dir,
			       struct gdn_log *log, struct gdn_err **err)
{
	_cleanup_err_ struct gdn_err *del_err = NULL;
	_cleanup_err_ struct gdn_err *state_err = NULL;
	_cleanup_free_ char *status = NULL;
	_cleanup_close_ int init = open_init_pidfd(dir, handle);
	pid_t pid = 0;

	int del = gd_runtime_delete(cfg, handle, true, log, &del_err);
	if (reap_init(init, handle, log, err) < 0)
		return gdn_err_code(*err);
	int st = gd_runtime_state(cfg, handle, &pid, &status, log, &state_err);
	if (st >= 0) {
		if (del < 0)
			return pass_err(err, &del_err);
		return gdn_err_set(err, 0, "container '%s' is still %s after %s delete", handle,
				   status, gd_runtime_name(cfg));
	}
	if (del < 0)
		gdn_log_error(log, "runtime-delete-failed-but-container-gone", del_err, NULL);
	if (st != -ENOENT)
		gdn_log_debug(log, "runtime-state-failed", "error", gdn_err_str(state_err), NULL);
	return 0;
}

/* The image plugin's delete, when one made the rootfs (its record in the dir). The record goes
 * once the delete succeeded, so a destroy retried after a later step failed runs it no more. */
int gd_container_delete_image(const struct gd_config *cfg, const char *handle, const char *dir,
			      struct gdn_log *log, struct gdn_err **err)
{
	_cleanup_free_ char *marker = gdn_path_join(dir, GDN_DEPOT_IMAGE_PLUGIN);
	_cleanup_free_ char *text = NULL;
	enum gdn_imageplugin_kind kind = GDN_IMAGEPLUGIN_UNPRIVILEGED;
	size_t len = 0;
	int r;

	if (!marker)
		return gdn_err_set(err, ENOMEM, "image plugin");
	if (access(marker, F_OK) < 0 && errno == ENOENT)
		return 0;
	if ((r = gdn_fs_read_file(marker, 64, &text, &len, err)) < 0)
		return r;
	if (strcmp(text, gdn_imageplugin_name(GDN_IMAGEPLUGIN_PRIVILEGED)) == 0)
		kind = GDN_IMAGEPLUGIN_PRIVILEGED;
	gdn_log_info(log, "image-plugin-delete", "plugin", gdn_imageplugin_name(kind), NULL);
	if ((r = gd_imageplugin_delete(cfg, kind, handle, log, err)) < 0)
		return r;
	if (unlink(marker) < 0 && errno != ENOENT)
		return gdn_err_set(err, errno, "unlink '%s'", marker);
	return 0;
}

static int destroy_dir(const struct gd_config *cfg, const char *handle, const char *dir,
		       struct gdn_log *log, struct gdn_err **err)
{
	_cleanup_free_ char *marker = gdn_path_join(dir, GDN_DEPOT_DESTROYING);
	char cgroup[GDN_HANDLE_MAX + 16];
	if (!marker)
		return gdn_err_set(err, ENOMEM, "cannot destroy '%s'", handle);
	snprintf(cgroup, sizeof(cgroup), "garden/%s", handle);

	int r = gdn_fs_write_atomic(marker, "", 0, 0644, err);
	if (r >= 0)
		r = delete_from_runtime(cfg, handle, dir, log, err);
	/* The processes are dead now; their shims may linger to deliver exit statuses. */
	if (r >= 0)
		gd_dadoo_kill_all(dir, log);
	/* its peas died with its PID namespace: their runtime containers, cgroups and rootfs
	 * (after their shims: a pea's process dir, dadoo.pid included, goes with it) */
	if (r >= 0)
		r = gd_pea_remove_all(cfg, handle, dir, log, err);
	/* Garden's order: the network after the runtime (the veth went with the netns) */
	if (r >= 0)
		r = gd_network_down(cfg, handle, log, err);
	/* Processes left in the cgroup make rmdir fail: a safety net against a runtime that lost
	 * track of a running container (whose files must then not be removed). */
	if (r >= 0)
		r = gd_cgroup_remove(cgroup, log, err);
	/* Garden's order: the image last, once nothing runs on it */
	if (r >= 0)
		r = gd_container_delete_image(cfg, handle, dir, log, err);
	if (r >= 0)
		r = gd_volume_unmount_all(dir, log, err);
	if (r >= 0)
		r = gd_volume_remove(cfg, handle, log, err);
	if (r >= 0)
		r = gdn_fs_rm_rf(dir, err);
	if (r < 0)
		return gdn_err_wrap(err, "destroy '%s'", handle);
	return 0;
}

int gd_container_destroy(const struct gd_config *cfg, const char *handle, struct gdn_log *log,
			 struct gdn_err **err)
{
	_cleanup_err_ struct gdn_err *invalid = NULL;
	_cleanup_free_ char *dir = NULL;
	struct stat st;

	if (gdn_name_validate("handle", handle, &invalid) < 0)
		return gdn_err_not_found(err, handle);
	dir = gd_container_dir(cfg, handle);
	if (!dir)
		return gdn_err_set(err, ENOMEM, "cannot destroy '%s'", handle);
	if (lstat(dir, &st) < 0) {
		if (errno == ENOENT)
			return gdn_err_not_found(err, handle);
		return gdn_err_set(err, errno, "stat '%s'", dir);
	}
	if (!S_ISDIR(st.st_mode)) {
		/* A stray entry in the depot lists as a handle; destroying it removes it. */
		if (unlink(dir) < 0 && errno != ENOENT)
			return gdn_err_set(err, errno, "unlink '%s'", dir);
		return 0;
	}
	gdn_log_info(log, GDN_DEPOT_DESTROYING, NULL);
	int r = destroy_dir(cfg, handle, dir, log, err);
	if (r >= 0)
		gdn_log_info(log, "destroyed", NULL);
	return r;
}

/* ---- stop ---------------------------------------------------------------------------------- */

static bool is_zombie(pid_t pid)
{
	struct gdn_proc_stat st;

	/* gone or unreadable counts as dead */
	return gdn_proc_stat_read(pid, &st) < 0 || st.state == 'Z' || st.state == 'X';
}

/* Signals every live process of the container except init; returns how many there were. Only
 * processes seen in the container's own cgroup are signalled; an init that has left it (it
 * exited: the container is gone) ends the stop with nothing left to signal. */
static int signal_others(pid_t init, const char *handle, int sig, bool send, struct gdn_err **err)
{
	_cleanup_free_ pid_t *pids = NULL;
	size_t n = 0;
	if (!in_container_cgroup(init, handle) || is_zombie(init))
		return 0;
	int r = gd_cgroup_procs_of(init, &pids, &n, err);
	if (r < 0)
		return r;
	int alive = 0;
	for (size_t i = 0; i < n; i++) {
		if (pids[i] == init || is_zombie(pids[i]) || !in_container_cgroup(pids[i], handle))
			continue;
		alive++;
		if (send)
			(void)kill(pids[i], sig);
	}
	return alive;
}

/* Sends `sig` and re-checks every 50 ms; re-sends each second, STOP_TRIES times. Returns the
 * number of processes still alive at the end (0: done). */
static int signal_loop(pid_t init, const char *handle, int sig, struct gdn_err **err)
{
	for (int t = 0; t < STOP_TRIES; t++) {
		int r = signal_others(init, handle, sig, true, err);
		if (r <= 0)
			return r;
		for (int p = 0; p < STOP_POLLS_PER_TRY; p++) {
			struct timespec ts = {0, STOP_POLL_NS};
			(void)nanosleep(&ts, NULL);
			r = signal_others(init, handle, sig, false, err);
			if (r <= 0)
				return r;
		}
	}
	return signal_others(init, handle, sig, false, err);
}

int gd_container_stop(const struct gd_config *cfg, const char *handle, bool kill_now,
		      struct gdn_log *log, struct gdn_err **err)
{
	_cleanup_err_ struct gdn_err *invalid = NULL;
	_cleanup_free_ char *dir = NULL;

	if (gdn_name_validate("handle", handle, &invalid) < 0)
		return gdn_err_not_found(err, handle);
	dir = gd_container_dir(cfg, handle);
	if (!dir)
		return gdn_err_set(err, ENOMEM, "cannot stop '%s'", handle);
	if (access(dir, F_OK) < 0)
		return errno == ENOENT ? gdn_err_not_found(err, handle)
				       : gdn_err_set(err, errno, "stat '%s'", dir);

	pid_t init = 0;
	int r = gd_runtime_state(cfg, handle, &init, NULL, log, err);
	if (r < 0)
		return gdn_err_wrap(err, "stop '%s'", handle);
	if (init <= 0)
		return gdn_err_set(err, 0, "stop '%s': container has no init process", handle);

	if (!kill_now) {
		r = signal_loop(init, handle, SIGTERM, err);
		if (r < 0)
			return gdn_err_wrap(err, "stop '%s'", handle);
		if (r == 0)
			return 0;
		gdn_log_info(log, "processes-survived-sigterm", NULL);
	}
	r = signal_loop(init, handle, SIGKILL, err);
	if (r < 0)
		return gdn_err_wrap(err, "stop '%s'", handle);
	if (r > 0)
		return gdn_err_set(err, 0, "stop '%s': %d processes survived SIGKILL", handle, r);
	return 0;
}

/* ---- limits -------------------------------------------------------------------------------- */

int gd_container_limits(const struct gd_config *cfg, const char *handle, struct gd_limits *ret,
			struct gdn_err **err)
{
	_cleanup_err_ struct gdn_err *invalid = NULL;
	_cleanup_free_ char *dir = NULL;
	json_auto_t *config = NULL;

	if (gdn_name_validate("handle", handle, &invalid) < 0)
		return gdn_err_not_found(err, handle);
	dir = gd_container_dir(cfg, handle);
	if (!dir)
		return gdn_err_set(err, ENOMEM, "cannot read limits of '%s'", handle);
	if (access(dir, F_OK) < 0 && errno == ENOENT)
		return gdn_err_not_found(err, handle);
	int r = gd_bundle_read(dir, &config, err);
	if (r < 0)
		return r;
	gd_bundle_limits(config, ret);
	return 0;
}
