/* OCI config generation (internals §4.2, §14.1).
 *
 * Differences from Garden's config, on purpose:
 * - ociVersion 1.0.2 (runc 1.1 and crun 1.8 both accept it);
 * - privileged containers get every capability the name table knows that is also in guardian's
 *   bounding set (a runtime refuses to grant a capability outside it);
 * - cgroupsPath is garden/<handle> for privileged containers too, so destroy can find leftovers;
 * - no sysctls but --no-new-privileges' ping range;
 * - no blockIO: guardian writes the weight itself (gd_cgroup_set_io_weight);
 * - the devices cgroup list is written out in full (deny all, then the standard allow list), so
 *   runc and crun end up with the same rules whatever defaults they add. */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include "lib/depot.h"
#include "lib/fs.h"
#include "lib/path.h"
#include "lib/util.h"
#include "cmd/guardian/bundle.h"
#include "cmd/guardian/caps.h"
#include "cmd/guardian/seccomp.h"

#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define CONFIG_MAX (16 << 20)
#define GD_FUSE_MAJOR 10
#define GD_FUSE_MINOR 229
#define GD_CPU_PERIOD_US 100000
#define GD_CPU_MIN_QUOTA_US 1000

static const char *const masked_paths[] = {
    "/proc/acpi",	   "/proc/asound",     "/proc/kcore",	    "/proc/keys",
    "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
    "/proc/scsi",	   "/sys/firmware",
};

static const char *const readonly_paths[] = {
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};

void gd_bundle_host_probe(struct gd_bundle_host *ret)
{
	struct statfs sfs;
	ret->cgroup_v1 = !(statfs("/sys/fs/cgroup", &sfs) == 0 &&
			   (unsigned long)sfs.f_type == (unsigned long)CGROUP2_SUPER_MAGIC);
	/* v1 needs memsw accounting for a memory+swap limit; on v2 the runtimes turn swap ==
	 * limit into memory.swap.max 0 and skip it where swap is not accounted, so Garden sets it
	 * on v2 always */
	ret->swap_limit = !ret->cgroup_v1 ||
			  access("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes", F_OK) == 0;
}

/* json_array_append_new that reports failure as -ENOMEM (it always consumes `v`). */
static int append(json_t *arr, json_t *v)
{
	return v && json_array_append_new(arr, v) == 0 ? 0 : -ENOMEM;
}

static int set(json_t *obj, const char *key, json_t *v)
{
	return v && json_object_set_new(obj, key, v) == 0 ? 0 : -ENOMEM;
}

static json_t *strv_json(const char *const *v, size_t n)
{
	json_t *arr = json_array();
	if (!arr)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (append(arr, json_string(v[i])) < 0)
			return json_decref(arr), NULL;
	return arr;
}

static int add_mount(json_t *mounts, const char *dst, const char *type, const char *src,
		     const char *const *opts, size_t n_opts)
{
	json_t *o = strv_json(opts, n_opts);
	if (!o)
		return -ENOMEM;
	return append(mounts, json_pack("{s:s, s:s, s:s, s:o}", "destination", dst, "type", type,
					"source", src, "options", o));
}

static json_t *caps_json(uint64_t set_bits)
{
	json_t *arr = json_array();
	if (!arr)
		return NULL;
	for (unsigned i = 0; i <= GD_CAP_LAST; i++)
		if ((set_bits & (UINT64_C(1) << i)) && append(arr, json_string(gd_cap_name(i))) < 0)
			return json_decref(arr), NULL;
	return arr;
}

static bool has_path(char *const *env)
{
	for (char *const *e = env; e && *e; e++)
		if (strncmp(*e, "PATH=", 5) == 0)
			return true;
	return false;
}

/* The image's env (from its plugin) and then the spec's, as Garden's Env rule has it. */
static json_t *process_json(const struct gd_config *cfg, const struct gd_create_spec *spec,
			    const struct gd_image *image)
{
	char *const *image_env = image ? image->env : NULL;

	json_auto_t *env = json_array();
	if (!env)
		return NULL;
	if (!has_path(spec->env) && !has_path(image_env) &&
	    append(env, json_string(DEFAULT_PATH)) < 0)
		return NULL;
	for (char *const *e = image_env; e && *e; e++)
		if (append(env, json_string(*e)) < 0)
			return NULL;
	for (char **e = spec->env; e && *e; e++)
		if (append(env, json_string(*e)) < 0)
			return NULL;

	uint64_t caps = spec->privileged ? gd_caps_all() : gd_caps_unprivileged();
	caps &= cfg->cap_bounding;
	json_auto_t *c = json_object();
	if (!c)
		return NULL;
	const char *const sets[] = {"bounding", "effective", "inheritable", "permitted"};
	for (size_t i = 0; i < GDN_ARRAY_SIZE(sets); i++)
		if (set(c, sets[i], caps_json(caps)) < 0)
			return NULL;

	bool unprivileged = !spec->privileged;
	json_auto_t *p =
	    json_pack("{s:b, s:{s:i, s:i}, s:[s], s:O, s:s, s:O, s:b}", "terminal", 0, "user",
		      "uid", 0, "gid", 0, "args", "/tmp/garden-init", "env", env, "cwd", "/",
		      "capabilities", c, "noNewPrivileges", unprivileged && cfg->no_new_privileges);
	if (!p || (unprivileged && cfg->apparmor_profile &&
		   set(p, "apparmorProfile", json_string(cfg->apparmor_profile)) < 0))
		return NULL;
	return json_incref(p);
}

static int add_standard_mounts(json_t *mounts, const struct gd_config *cfg,
			       const struct gd_create_spec *spec, const char *dir,
			       const struct gd_bundle_host *host)
{
	static const char *const proc_o[] = {"nosuid", "noexec", "nodev"};
	/* Garden's /dev is noexec; nosuid as well, as every runtime's default spec has it */
	static const char *const dev_o[] = {"nosuid", "noexec", "strictatime", "mode=755",
					    "size=65536k"};
	static const char *const pts_o[] = {"nosuid",	     "noexec",	  "newinstance",
					    "ptmxmode=0666", "mode=0620", "gid=5"};
	/* no size, as in Garden: the memory limit bounds it (64 MiB would fail apps that
	 * Garden runs) */
	static const char *const shm_o[] = {"nosuid", "noexec", "nodev", "mode=1777"};
	static const char *const mq_o[] = {"nosuid", "noexec", "nodev"};
	static const char *const sys_o[] = {"nosuid", "noexec", "nodev", "ro"};
	static const char *const cg_o[] = {"nosuid", "noexec", "nodev", "relatime", "ro"};
	static const char *const init_o[] = {"bind", "ro", "nosuid", "nodev"};
	static const char *const rw_bind_o[] = {"bind", "rw"};

	/* gid=5 (tty) must be mapped in the container's user namespace. */
	bool tty_gid = spec->privileged || cfg->gid_map_length >= 5;
	_cleanup_free_ char *hosts = gdn_path_join(dir, GDN_DEPOT_HOSTS);
	_cleanup_free_ char *resolv = gdn_path_join(dir, GDN_DEPOT_RESOLV_CONF);
	if (!hosts || !resolv)
		return -ENOMEM;

	int r = 0;
	if (r >= 0)
		r = add_mount(mounts, "/proc", "proc", "proc", proc_o, GDN_ARRAY_SIZE(proc_o));
	if (r >= 0)
		r = add_mount(mounts, "/dev", "tmpfs", "tmpfs", dev_o, GDN_ARRAY_SIZE(dev_o));
	if (r >= 0)
		r = add_mount(mounts, "/dev/pts", "devpts", "devpts", pts_o,
			      GDN_ARRAY_SIZE(pts_o) - (tty_gid ? 0 : 1));
	if (r >= 0)
		r = add_mount(mounts, "/dev/shm", "tmpfs", "shm", shm_o, GDN_ARRAY_SIZE(shm_o));
	if (r >= 0)
		r = add_mount(mounts, "/dev/mqueue", "mqueue", "mqueue", mq_o,
			      GDN_ARRAY_SIZE(mq_o));
	if (r >= 0)
		r = add_mount(mounts, "/sys", "sysfs", "sysfs", sys_o, GDN_ARRAY_SIZE(sys_o));
	if (r >= 0 && !spec->privileged && host->cgroup_v1)
		r = add_mount(mounts, "/sys/fs/cgroup", "cgroup", "cgroup", cg_o,
			      GDN_ARRAY_SIZE(cg_o));
	if (r >= 0)
		r = add_mount(mounts, "/tmp/garden-init", "bind", cfg->init_bin, init_o,
			      GDN_ARRAY_SIZE(init_o));
	if (r >= 0)
		r = add_mount(mounts, "/etc/hosts", "bind", hosts, rw_bind_o,
			      GDN_ARRAY_SIZE(rw_bind_o));
	if (r >= 0)
		r = add_mount(mounts, "/etc/resolv.conf", "bind", resolv, rw_bind_o,
			      GDN_ARRAY_SIZE(rw_bind_o));
	return r;
}

/* The source mount's nosuid, nodev, noexec and atime flags, kept on the bind mount: in a user
 * namespace they are locked, and the runtime's read-only remount of a bind mount that drops
 * them fails with EPERM (a source under a nosuid,nodev /tmp, as on many hosts). */
static size_t locked_flags(const char *src, const char **opts)
{
	static const struct {
		unsigned long flag;
		const char *opt;
	} kept[] = {
	    {ST_NOSUID, "nosuid"},   {ST_NODEV, "nodev"},	    {ST_NOEXEC, "noexec"},
	    {ST_NOATIME, "noatime"}, {ST_NODIRATIME, "nodiratime"}, {ST_RELATIME, "relatime"},
	};
	struct statvfs sv;
	size_t n = 0;

	if (statvfs(src, &sv) < 0)
		return 0;
	for (size_t i = 0; i < GDN_ARRAY_SIZE(kept); i++)
		if (sv.f_flag & kept[i].flag)
			opts[n++] = kept[i].opt;
	return n;
}

static int add_bind_mounts(json_t *mounts, const struct gd_create_spec *spec)
{
	for (size_t i = 0; i < spec->n_bind_mounts; i++) {
		const struct gd_bind_mount *b = &spec->bind_mounts[i];
		const char *opts[8] = {"rbind", b->rw ? "rw" : "ro"};
		size_t n = 2 + locked_flags(b->src, opts + 2);
		int r = add_mount(mounts, b->dst, "bind", b->src, opts, n);
		if (r < 0)
			return r;
	}
	return 0;
}

static json_t *id_mappings(uint32_t maxid, uint32_t start, uint32_t length)
{
	json_auto_t *m = json_pack("[{s:I, s:I, s:I}]", "containerID", (json_int_t)0, "hostID",
				   (json_int_t)maxid, "size", (json_int_t)1);
	if (!m)
		return NULL;
	if (length > 0 &&
	    append(m, json_pack("{s:I, s:I, s:I}", "containerID", (json_int_t)1, "hostID",
				(json_int_t)start, "size", (json_int_t)length)) < 0)
		return NULL;
	return json_incref(m);
}

static json_t *device_rule(bool allow, const char *type, int64_t major, int64_t minor,
			   const char *access)
{
	json_auto_t *d = json_pack("{s:b, s:s}", "allow", allow, "access", access);
	if (!d)
		return NULL;
	if (type && set(d, "type", json_string(type)) < 0)
		return NULL;
	if (major >= 0 && set(d, "major", json_integer(major)) < 0)
		return NULL;
	if (minor >= 0 && set(d, "minor", json_integer(minor)) < 0)
		return NULL;
	return json_incref(d);
}

static json_t *devices_json(const struct gd_config *cfg, bool privileged)
{
	static const struct {
		const char *type;
		int64_t major, minor;
		const char *access;
	} allowed[] = {
	    {"c", -1, -1, "m"},	   /* mknod of any char device */
	    {"b", -1, -1, "m"},	   /* mknod of any block device */
	    {"c", 1, 3, "rwm"},	   /* null */
	    {"c", 1, 5, "rwm"},	   /* zero */
	    {"c", 1, 7, "rwm"},	   /* full */
	    {"c", 1, 8, "rwm"},	   /* random */
	    {"c", 1, 9, "rwm"},	   /* urandom */
	    {"c", 5, 0, "rwm"},	   /* tty */
	    {"c", 5, 2, "rwm"},	   /* ptmx */
	    {"c", 136, -1, "rwm"}, /* pts */
	    {"c", 10, 200, "rwm"}, /* net/tun */
	};
	json_auto_t *d = json_array();
	if (!d || append(d, device_rule(false, NULL, -1, -1, "rwm")) < 0)
		return NULL;
	for (size_t i = 0; i < GDN_ARRAY_SIZE(allowed); i++)
		if (append(d, device_rule(true, allowed[i].type, allowed[i].major, allowed[i].minor,
					  allowed[i].access)) < 0)
			return NULL;
	if (!privileged)
		return json_incref(d);
	if (append(d, device_rule(true, "c", GD_FUSE_MAJOR, GD_FUSE_MINOR, "rwm")) < 0)
		return NULL;
	for (size_t i = 0; i < cfg->n_device_rules; i++) {
		const struct gd_device_rule *r = &cfg->device_rules[i];
		const char type[] = {r->type, '\0'};
		if (append(d, device_rule(true, type, r->major, r->minor, r->access)) < 0)
			return NULL;
	}
	return json_incref(d);
}

static json_t *cpu_json(const struct gd_config *cfg, uint64_t shares)
{
	json_int_t s = shares > INT64_MAX ? (json_int_t)INT64_MAX : (json_int_t)shares;
	json_auto_t *cpu = json_pack("{s:I}", "shares", s);
	if (!cpu || cfg->cpu_quota_per_share == 0)
		return json_incref(cpu);
	/* Garden's rule: a quota of shares x quota-per-share microseconds per 100 ms, at least
	 * 1 ms (saturating: a quota above INT64_MAX means none) */
	uint64_t quota = shares > (uint64_t)INT64_MAX / cfg->cpu_quota_per_share
			     ? (uint64_t)INT64_MAX
			     : shares * cfg->cpu_quota_per_share;
	if (quota < GD_CPU_MIN_QUOTA_US)
		quota = GD_CPU_MIN_QUOTA_US;
	if (set(cpu, "period", json_integer(GD_CPU_PERIOD_US)) < 0 ||
	    set(cpu, "quota", json_integer((json_int_t)quota)) < 0)
		return NULL;
	return json_incref(cpu);
}

static json_t *resources_json(const struct gd_config *cfg, const struct gd_create_spec *spec,
			      const struct gd_bundle_host *host)
{
	const struct gd_limits *l = &spec->limits;
	json_auto_t *res = json_object();
	if (!res || set(res, "devices", devices_json(cfg, spec->privileged)) < 0)
		return NULL;
	if (l->memory_bytes > 0) {
		json_int_t mem = l->memory_bytes > INT64_MAX ? (json_int_t)INT64_MAX
							     : (json_int_t)l->memory_bytes;
		json_auto_t *m = json_pack("{s:I}", "limit", mem);
		/* memory+swap = limit: no swap beyond the memory limit (Garden's default). */
		if (!m || (host->swap_limit && !cfg->disable_swap_limit &&
			   set(m, "swap", json_integer(mem)) < 0))
			return NULL;
		if (set(res, "memory", json_incref(m)) < 0)
			return NULL;
	}
	if (l->cpu_shares > 0 && set(res, "cpu", cpu_json(cfg, l->cpu_shares)) < 0)
		return NULL;
	if (l->pids_max > 0) {
		json_int_t p =
		    l->pids_max > INT64_MAX ? (json_int_t)INT64_MAX : (json_int_t)l->pids_max;
		if (set(res, "pids", json_pack("{s:I}", "limit", p)) < 0)
			return NULL;
	}
	return json_incref(res);
}

static json_t *linux_json(const struct gd_config *cfg, const struct gd_create_spec *spec,
			  const struct gd_bundle_host *host)
{
	json_auto_t *lx = json_object();
	json_auto_t *ns = json_pack("[{s:s}, {s:s}, {s:s}, {s:s}, {s:s}]", "type", "pid", "type",
				    "ipc", "type", "uts", "type", "mount", "type", "network");
	if (!lx || !ns)
		return NULL;
	if (!spec->privileged) {
		if (append(ns, json_pack("{s:s}", "type", "user")) < 0)
			return NULL;
		if (set(lx, "uidMappings",
			id_mappings(cfg->maxid, cfg->uid_map_start, cfg->uid_map_length)) < 0)
			return NULL;
		if (set(lx, "gidMappings",
			id_mappings(cfg->maxid, cfg->gid_map_start, cfg->gid_map_length)) < 0)
			return NULL;
		if (set(lx, "maskedPaths", strv_json(masked_paths, GDN_ARRAY_SIZE(masked_paths))) <
		    0)
			return NULL;
		if (set(lx, "readonlyPaths",
			strv_json(readonly_paths, GDN_ARRAY_SIZE(readonly_paths))) < 0)
			return NULL;
		if (set(lx, "seccomp", gd_seccomp_profile()) < 0)
			return NULL;
	}
	if (set(lx, "namespaces", json_incref(ns)) < 0)
		return NULL;

	char cgpath[GDN_HANDLE_MAX + 16];
	int n = snprintf(cgpath, sizeof(cgpath), "%sgarden/%s", host->cgroup_v1 ? "" : "/",
			 spec->handle);
	if (n < 0 || (size_t)n >= sizeof(cgpath))
		return NULL;
	if (set(lx, "cgroupsPath", json_string(cgpath)) < 0)
		return NULL;
	if (set(lx, "resources", resources_json(cfg, spec, host)) < 0)
		return NULL;
	if (spec->privileged &&
	    set(lx, "devices",
		json_pack("[{s:s, s:s, s:i, s:i, s:i, s:i, s:i}]", "path", "/dev/fuse", "type", "c",
			  "major", GD_FUSE_MAJOR, "minor", GD_FUSE_MINOR, "fileMode", 0666, "uid",
			  0, "gid", 0)) < 0)
		return NULL;
	if (!spec->privileged && cfg->no_new_privileges &&
	    set(lx, "sysctl", json_pack("{s:s}", "net.ipv4.ping_group_range", "1 65535")) < 0)
		return NULL;
	if (set(lx, "rootfsPropagation", json_string("private")) < 0)
		return NULL;
	return json_incref(lx);
}

/* A limit above INT64_MAX is clamped in the OCI resources (int64 there); the annotation keeps
 * the value the client set, so that the limits getters return it. */
static int annotate_clamped(json_t *a, const char *key, uint64_t v)
{
	char buf[32];
	if (v <= INT64_MAX)
		return 0;
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
	return set(a, key, json_string(buf));
}

static json_t *annotations_json(const struct gd_create_spec *spec)
{
	char disk[32];
	snprintf(disk, sizeof(disk), "%llu", (unsigned long long)spec->limits.disk_byte_hard);
	json_auto_t *a =
	    json_pack("{s:s, s:s}", GD_ANNOTATION_PRIVILEGED, spec->privileged ? "true" : "false",
		      GD_ANNOTATION_DISK_BYTE_HARD, disk);
	if (!a || annotate_clamped(a, GD_ANNOTATION_MEMORY_LIMIT, spec->limits.memory_bytes) < 0 ||
	    annotate_clamped(a, GD_ANNOTATION_CPU_SHARES, spec->limits.cpu_shares) < 0)
		return NULL;
	return json_incref(a);
}

json_t *gd_bundle_config(const struct gd_config *cfg, const struct gd_create_spec *spec,
			 const char *dir, const struct gd_bundle_host *host, struct gdn_err **err)
{
	return gd_bundle_config_image(cfg, spec, dir, host, NULL, err);
}

json_t *gd_bundle_config_image(const struct gd_config *cfg, const struct gd_create_spec *spec,
			       const char *dir, const struct gd_bundle_host *host,
			       const struct gd_image *image, struct gdn_err **err)
{
	const char *hostname = spec->handle;
	size_t hlen = strlen(hostname);
	if (hlen > GD_HOSTNAME_MAX)
		hostname += hlen - GD_HOSTNAME_MAX;

	_cleanup_free_ char *rootfs =
	    image ? strdup(image->rootfs) : gdn_path_join(dir, GDN_DEPOT_ROOTFS);
	/* the plugin's mounts first (Garden prepends them): with grootfs' skip_mount, the
	 * overlay at "/" that the runtime makes */
	json_auto_t *mounts = image && image->mounts ? json_deep_copy(image->mounts) : json_array();
	json_auto_t *config = NULL;
	if (!rootfs || !mounts) {
		gdn_err_set(err, ENOMEM, "cannot build the OCI config");
		return NULL;
	}
	if (!cfg->init_bin) {
		gdn_err_set(err, EINVAL, "no init binary configured");
		return NULL;
	}
	if (add_standard_mounts(mounts, cfg, spec, dir, host) < 0 ||
	    add_bind_mounts(mounts, spec) < 0) {
		gdn_err_set(err, ENOMEM, "cannot build the OCI mounts");
		return NULL;
	}

	json_auto_t *process = process_json(cfg, spec, image);
	json_auto_t *lx = linux_json(cfg, spec, host);
	json_auto_t *annotations = annotations_json(spec);
	if (process && lx && annotations)
		config =
		    json_pack("{s:s, s:O, s:{s:s, s:b}, s:s, s:O, s:O, s:O}", "ociVersion", "1.0.2",
			      "process", process, "root", "path", rootfs, "readonly", 0, "hostname",
			      hostname, "mounts", mounts, "linux", lx, "annotations", annotations);
	if (!config) {
		gdn_err_set(err, ENOMEM, "cannot build the OCI config");
		return NULL;
	}
	return json_incref(config);
}

int gd_bundle_write(const char *dir, const json_t *config, struct gdn_err **err)
{
	_cleanup_free_ char *path = gdn_path_join(dir, GDN_DEPOT_CONFIG);
	_cleanup_free_ char *text = json_dumps(config, JSON_INDENT(2));
	if (!path || !text)
		return gdn_err_set(err, ENOMEM, "cannot serialize the OCI config");
	return gdn_fs_write_atomic(path, text, strlen(text), 0600, err);
}

int gd_bundle_read(const char *dir, json_t **ret, struct gdn_err **err)
{
	_cleanup_free_ char *path = gdn_path_join(dir, GDN_DEPOT_CONFIG);
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	if (!path)
		return gdn_err_set(err, ENOMEM, "cannot read the OCI config");
	int r = gdn_fs_read_file(path, CONFIG_MAX, &text, &len, err);
	if (r < 0)
		return r;
	json_error_t jerr;
	json_t *v = json_loadb(text, len, 0, &jerr);
	if (!v || !json_is_object(v)) {
		json_decref(v);
		return gdn_err_set(err, EINVAL, "cannot parse '%s': %s", path, jerr.text);
	}
	*ret = v;
	return 0;
}

static uint64_t get_u64(const json_t *obj, const char *key)
{
	json_int_t v = json_integer_value(json_object_get(obj, key));
	return v > 0 ? (uint64_t)v : 0;
}

void gd_bundle_limits(const json_t *config, struct gd_limits *ret)
{
	const json_t *res = json_object_get(json_object_get(config, "linux"), "resources");
	memset(ret, 0, sizeof(*ret));
	ret->memory_bytes = get_u64(json_object_get(res, "memory"), "limit");
	ret->cpu_shares = get_u64(json_object_get(res, "cpu"), "shares");
	ret->pids_max = get_u64(json_object_get(res, "pids"), "limit");
	const json_t *annotations = json_object_get(config, "annotations");
	const char *disk =
	    json_string_value(json_object_get(annotations, GD_ANNOTATION_DISK_BYTE_HARD));
	const char *mem =
	    json_string_value(json_object_get(annotations, GD_ANNOTATION_MEMORY_LIMIT));
	const char *cpu = json_string_value(json_object_get(annotations, GD_ANNOTATION_CPU_SHARES));
	uint64_t v = 0;
	if (disk && gdn_parse_u64(disk, &v) == 0)
		ret->disk_byte_hard = v;
	if (mem && gdn_parse_u64(mem, &v) == 0)
		ret->memory_bytes = v;
	if (cpu && gdn_parse_u64(cpu, &v) == 0)
		ret->cpu_shares = v;
}

bool gd_bundle_privileged(const json_t *config)
{
	const char *p = json_string_value(
	    json_object_get(json_object_get(config, "annotations"), GD_ANNOTATION_PRIVILEGED));
	return p && strcmp(p, "true") == 0;
}
