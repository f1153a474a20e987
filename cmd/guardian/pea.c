/* See pea.h. The pea's bundle is the config a container of its image would get (bundle.c, via
 * gd_container_rootfs), changed where a pea differs: the sandbox's namespaces joined by path,
 * the sandbox's hosts and resolv.conf, no hostname and no sysctl (those are the sandbox's
 * namespaces' already), its own cgroup path, and no resources but the devices rules unless
 * ProcessSpec.limits asked for its own. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "lib/depot.h"
#include "lib/fs.h"
#include "lib/path.h"
#include "lib/util.h"
#include "cmd/guardian/bundle.h"
#include "cmd/guardian/cgroup.h"
#include "cmd/guardian/pea.h"
#include "cmd/guardian/runtime.h"
#include "cmd/guardian/users.h"
#include "cmd/guardian/volume_store.h"
#include "cmd/guardian/volumizer.h"

void gd_pea_cgroup(const char *handle, const char *id, bool own, char *buf)
{
	(void)snprintf(buf, GD_PEA_CGROUP_MAX, "garden/%s%s%s", handle, own ? "@" : "/", id);
}

static const char *id_of(const char *procdir)
{
	const char *slash = strrchr(procdir, '/');
	return slash ? slash + 1 : procdir;
}

bool gd_pea_is(const char *procdir)
{
	static const char *const marks[] = {GDN_PROC_BUNDLE, GDN_DEPOT_VOLUME,
					    GDN_PROC_IMAGE_PLUGIN};

	for (size_t i = 0; i < GDN_ARRAY_SIZE(marks); i++) {
		_cleanup_free_ char *p = gdn_path_join(procdir, marks[i]);
		if (!p || access(p, F_OK) == 0)
			return true;
	}
	return false;
}

static int set_ns(json_t *ns, const char *type, pid_t init)
{
	char path[64];

	(void)snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)init,
		       strcmp(type, "network") == 0 ? "net" : type);
	return json_array_append_new(ns, json_pack("{s:s, s:s}", "type", type, "path", path));
}

/* The sandbox's files at /etc/hosts and /etc/resolv.conf. */
static int sandbox_files(const struct gd_config *cfg, const char *handle, json_t *mounts)
{
	_cleanup_free_ char *dir = gd_container_dir(cfg, handle);
	json_t *m;
	size_t i;

	if (!dir)
		return -ENOMEM;
	json_array_foreach (mounts, i, m) {
		const char *dst = json_string_value(json_object_get(m, "destination"));
		const char *name = NULL;
		_cleanup_free_ char *src = NULL;

		if (dst && strcmp(dst, "/etc/hosts") == 0)
			name = GDN_DEPOT_HOSTS;
		else if (dst && strcmp(dst, "/etc/resolv.conf") == 0)
			name = GDN_DEPOT_RESOLV_CONF;
		if (!name)
			continue;
		src = gdn_path_join(dir, name);
		if (!src || json_object_set_new(m, "source", json_string(src)) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int adapt(const struct gd_config *cfg, const char *handle, const char *id, pid_t init,
		 bool privileged, bool own_limits, const struct gd_bundle_host *host,
		 json_t *config, struct gdn_err **err)
{
	static const char *const joined[] = {"network", "ipc", "pid", "uts"};
	json_t *lx = json_object_get(config, "linux");
	json_t *res = json_object_get(lx, "resources");
	json_auto_t *ns = json_pack("[{s:s}]", "type", "mount");
	char cg[GD_PEA_CGROUP_MAX + 1];
	int r = 0;

	if (!json_is_object(lx) || !ns)
		return gdn_err_set(err, ENOMEM, "pea config");
	for (size_t i = 0; r >= 0 && i < GDN_ARRAY_SIZE(joined); i++)
		r = set_ns(ns, joined[i], init);
	if (r >= 0 && !privileged)
		r = set_ns(ns, "user", init);
	cg[0] = '/';
	gd_pea_cgroup(handle, id, own_limits, cg + 1);
	if (r >= 0)
		r = json_object_set(lx, "namespaces", ns);
	if (r >= 0)
		r = json_object_set_new(lx, "cgroupsPath",
					json_string(host->cgroup_v1 ? cg + 1 : cg));
	if (r >= 0 && !own_limits && json_is_object(res)) {
		json_t *devices = json_incref(json_object_get(res, "devices"));
		r = json_object_set_new(lx, "resources", json_pack("{s:o*}", "devices", devices));
	}
	if (r >= 0)
		r = sandbox_files(cfg, handle, json_object_get(config, "mounts"));
	(void)json_object_del(lx, "sysctl");
	(void)json_object_del(config, "hostname");
	return r < 0 ? gdn_err_set(err, ENOMEM, "pea config") : 0;
}

static int write_json(const char *dir, const char *name, const json_t *v, struct gdn_err **err)
{
	_cleanup_free_ char *path = gdn_path_join(dir, name);
	_cleanup_free_ char *text = NULL;
	size_t len = 0;

	text = path ? gdn_json_line(v, &len) : NULL;
	if (!text)
		return gdn_err_set(err, ENOMEM, "write %s", name);
	return gdn_fs_write_atomic(path, text, len, 0600, err);
}

/* A file of the pea's image: from its rootfs, mounted here until the pea runs, or, when the
 * runtime is to mount it (an image plugin's overlay at "/", grootfs' skip_mount), from the
 * overlay's lower dirs, top first (the upper dir of a new image is empty). *ret stays NULL when
 * there is none. */
static void read_image_file(const json_t *config, const char *rootfs, const char *path, char **ret)
{
	const json_t *m;
	size_t i;

	if (gd_rootfs_read_file(rootfs, path, ret, NULL) >= 0)
		return;
	json_array_foreach (json_object_get(config, "mounts"), i, m) {
		const char *dst = json_string_value(json_object_get(m, "destination"));
		const char *type = json_string_value(json_object_get(m, "type"));
		const json_t *o;
		size_t k;

		if (!dst || strcmp(dst, "/") != 0 || !type || strcmp(type, "overlay") != 0)
			continue;
		json_array_foreach (json_object_get(m, "options"), k, o) {
			const char *opts = json_string_value(o);
			const char *lower = opts ? strstr(opts, "lowerdir=") : NULL;

			if (!lower || (lower != opts && lower[-1] != ','))
				continue;
			lower += strlen("lowerdir=");
			while (*lower && *lower != ',') {
				size_t n = strcspn(lower, ":,");
				_cleanup_free_ char *dir = strndup(lower, n);

				if (dir && gd_rootfs_read_file(dir, path, ret, NULL) >= 0)
					return;
				lower += n + (lower[n] == ':');
			}
		}
	}
}

static int build(const struct gd_config *cfg, const char *handle, pid_t init,
		 const struct gd_process_spec *spec, const struct gd_create_spec *image,
		 bool own_limits, const char *procdir, uid_t *ret_uid, gid_t *ret_gid,
		 struct gdn_log *log, struct gdn_err **err)
{
	_cleanup_free_ char *passwd = NULL, *group = NULL;
	struct gd_bundle_host host;
	json_auto_t *config = NULL, *process = NULL;
	struct gd_user user;
	const char *rootfs, *cwd = *spec->dir ? spec->dir : "/";
	int r;

	gd_bundle_host_probe(&host);
	r = gd_container_rootfs(cfg, image, procdir, &host, &config, log, err);
	if (r < 0)
		return gdn_err_wrap(err, "create the pea's rootfs");
	r = adapt(cfg, handle, id_of(procdir), init, image->privileged, own_limits, &host, config,
		  err);
	if (r < 0)
		return r;
	rootfs = json_string_value(json_object_get(json_object_get(config, "root"), "path"));
	if (!rootfs)
		return gdn_err_set(err, EINVAL, "the pea's config has no root");
	/* the pea's own users */
	read_image_file(config, rootfs, "/etc/passwd", &passwd);
	read_image_file(config, rootfs, "/etc/group", &group);
	if ((r = gd_user_lookup(passwd, group, spec->user, &user, err)) < 0)
		return r;
	process = gd_process_oci(config, spec, &user, cwd);
	if (!process || json_object_set(config, "process", process) < 0)
		return gdn_err_set(err, ENOMEM, "pea process");
	if ((r = write_json(procdir, GDN_PROC_SPEC, process, err)) < 0 ||
	    (r = gd_bundle_write(procdir, config, err)) < 0)
		return r;
	*ret_uid = user.uid;
	*ret_gid = user.gid;
	if (!image->privileged) {
		*ret_uid =
		    gd_idmap_host(cfg->maxid, cfg->uid_map_start, cfg->uid_map_length, user.uid);
		*ret_gid =
		    gd_idmap_host(cfg->maxid, cfg->gid_map_start, cfg->gid_map_length, user.gid);
	}
	return 0;
}

int gd_pea_prepare(const struct gd_config *cfg, const char *handle, pid_t init,
		   const struct gd_process_spec *spec, const struct gd_create_spec *image,
		   bool own_limits, const char *procdir, uid_t *ret_uid, gid_t *ret_gid,
		   struct gdn_log *log, struct gdn_err **err)
{
	const char *slash = strrchr(procdir, '/');
	_cleanup_free_ char *procs = slash ? strndup(procdir, (size_t)(slash - procdir)) : NULL;
	int r;

	if (!procs)
		return gdn_err_set(err, ENOMEM, "pea");
	if (mkdir(procs, 0711) < 0 && errno != EEXIST)
		return gdn_err_set(err, errno, "mkdir '%s'", procs);
	if (mkdir(procdir, 0711) < 0) {
		if (errno == EEXIST)
			return gdn_err_kind(err, GDN_ERR_GENERIC, EEXIST,
					    "process ID '%s' already in use", spec->id);
		return gdn_err_set(err, errno, "mkdir '%s'", procdir);
	}
	/* an unprivileged pea's root (a host uid of the mapping) must reach its rootfs in here:
	 * search, not read, whatever the umask or an earlier Run made processes/ */
	if (chmod(procs, 0711) < 0 || chmod(procdir, 0711) < 0)
		return gdn_err_set(err, errno, "chmod '%s'", procdir);
	r = build(cfg, handle, init, spec, image, own_limits, procdir, ret_uid, ret_gid, log, err);
	if (r < 0) {
		_cleanup_err_ struct gdn_err *e = NULL;
		if (gd_pea_remove(cfg, handle, procdir, true, log, &e) < 0)
			gdn_log_error(log, "pea-undo-failed", e, "process", spec->id, NULL);
	}
	return r;
}

/* procdir with its symlinks resolved, also once it is gone (malloc'd, or NULL). */
static char *canonical(const char *procdir)
{
	const char *slash = strrchr(procdir, '/');
	char *real = realpath(procdir, NULL), *joined = NULL;
	_cleanup_free_ char *parent = NULL;

	if (real || !slash)
		return real;
	/* gone already (dadoo's --cleanup-on-wait): its processes/ dir is still there */
	parent = strndup(procdir, (size_t)(slash - procdir));
	real = parent ? realpath(parent, NULL) : NULL;
	if (real && asprintf(&joined, "%s/%s", real, slash + 1) < 0)
		joined = NULL;
	free(real);
	return joined;
}

/* The runtime's container `id`, if it is this pea's: a pea's id is a process id, which may
 * also name another container of the runtime (Garden has the same namespace). */
static int delete_runtime(const struct gd_config *cfg, const char *id, const char *procdir,
			  struct gdn_log *log, struct gdn_err **err)
{
	_cleanup_free_ char *bundle = NULL, *want = canonical(procdir), *have = NULL;
	_cleanup_err_ struct gdn_err *e = NULL;
	int r = gd_runtime_bundle(cfg, id, &bundle, log, &e);

	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return gdn_err_set(err, -r, "%s", gdn_err_str(e));
	have = *bundle ? canonical(bundle) : NULL;
	if (!want || !have || strcmp(want, have) != 0) {
		gdn_log_info(log, "pea-runtime-id-taken", "process", id, "bundle", bundle, NULL);
		return 0;
	}
	return gd_runtime_delete(cfg, id, true, log, err);
}

static int remove_bundle(const char *procdir, bool all, struct gdn_err **err)
{
	static const char *const parts[] = {GDN_PROC_BUNDLE, GDN_PROC_ROOTFS, GDN_DEPOT_VOLUME};

	if (all)
		return gdn_fs_rm_rf(procdir, err);
	for (size_t i = 0; i < GDN_ARRAY_SIZE(parts); i++) {
		_cleanup_free_ char *p = gdn_path_join(procdir, parts[i]);
		int r = p ? gdn_fs_rm_rf(p, err) : gdn_err_set(err, ENOMEM, "pea");
		if (r < 0)
			return r;
	}
	return 0;
}

int gd_pea_remove(const struct gd_config *cfg, const char *handle, const char *procdir, bool all,
		  struct gdn_log *log, struct gdn_err **err)
{
	const char *id = id_of(procdir);
	_cleanup_free_ char *volume = gd_volume_name(procdir);
	char own[GD_PEA_CGROUP_MAX], shared[GD_PEA_CGROUP_MAX];
	int r;

	if (!volume)
		return gdn_err_set(err, ENOMEM, "remove pea");
	gd_pea_cgroup(handle, id, true, own);
	gd_pea_cgroup(handle, id, false, shared);
	/* Garden's order, as for a container: the runtime, the cgroups (nothing runs on the
	 * image any more), then the image */
	r = delete_runtime(cfg, id, procdir, log, err);
	if (r >= 0)
		r = gd_cgroup_remove(own, log, err);
	if (r >= 0)
		r = gd_cgroup_remove(shared, log, err);
	if (r >= 0)
		r = gd_volume_unmount_all(procdir, log, err);
	if (r >= 0)
		r = gd_container_delete_image(cfg, id, procdir, log, err);
	if (r >= 0)
		r = gd_volume_remove(cfg, volume, log, err);
	if (r >= 0)
		r = remove_bundle(procdir, all, err);
	if (r < 0)
		return gdn_err_wrap(err, "remove pea '%s'", id);
	gdn_log_info(log, "pea-removed", "process", id, NULL);
	return 0;
}

int gd_pea_remove_all(const struct gd_config *cfg, const char *handle, const char *dir,
		      struct gdn_log *log, struct gdn_err **err)
{
	_cleanup_free_ char *procs = gdn_path_join(dir, GDN_DEPOT_PROCESSES);
	_cleanup_closedir_ DIR *d = procs ? opendir(procs) : NULL;
	struct dirent *ent;
	int ret = 0;

	if (!procs)
		return gdn_err_set(err, ENOMEM, "remove peas");
	while (d && (ent = readdir(d))) {
		_cleanup_free_ char *procdir = NULL;
		_cleanup_err_ struct gdn_err *e = NULL;

		if (ent->d_name[0] == '.')
			continue;
		procdir = gdn_path_join(procs, ent->d_name);
		if (!procdir || !gd_pea_is(procdir))
			continue;
		if (gd_pea_remove(cfg, handle, procdir, true, log, &e) < 0 && ret == 0) {
			ret = gdn_err_code(e);
			if (err)
				*err = gdn_steal_ptr(&e);
		}
	}
	return ret;
}
