/* Container volumes in the store (<store>/volumes/<handle>/{upper,work}), their project
 * quotas and their disk usage: the part of the built-in volumizer that outlives a mount.
 *
 *   <store>/volumes/<handle>/    the volume; on a store with project quotas, the root of a
 *                                project of its own (FS_XFLAG_PROJINHERIT) holding upper/, work/
 *   <store>/projectids/<id>      the handle project id <id> belongs to (quota.c)
 *   <depot>/<handle>/volume/path the volume's path, written before anything is made in it
 *   <depot>/<handle>/volume/image "<bytes> <inodes>": the image's size, for total-scope limits
 *                                and DiskStat */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "lib/depot.h"
#include "lib/fs.h"
#include "lib/path.h"
#include "lib/proc.h"
#include "lib/util.h"
#include "cmd/guardian/disk_usage.h"
#include "cmd/guardian/volume_store.h"
#include "cmd/guardian/volumizer.h"

char *gd_volume_name(const char *dir)
{
	const char *slash = strrchr(dir, '/');
	const char *last = slash ? slash + 1 : dir;
	char *name = NULL;

	/* <depot>/<handle>/processes/<id>: a pea's */
	if (slash && slash - dir > (ptrdiff_t)strlen(GDN_DEPOT_PROCESSES) + 1) {
		const char *procs = slash - strlen(GDN_DEPOT_PROCESSES);
		if (procs[-1] == '/' &&
		    strncmp(procs, GDN_DEPOT_PROCESSES, strlen(GDN_DEPOT_PROCESSES)) == 0) {
			const char *end = procs - 1, *h = end;
			while (h > dir && h[-1] != '/')
				h--;
			if (h < end && asprintf(&name, "%.*s" GD_VOLUME_PEA_SEP "%s",
						(int)(end - h), h, last) < 0)
				return NULL;
			if (name)
				return name;
		}
	}
	return strdup(last);
}

char *gd_volume_store_path(const struct gd_config *cfg, const char *handle)
{
	char *p = NULL;
	if (asprintf(&p, "%s/%s/%s", cfg->store, GD_VOLUME_STORE_DIR, handle) < 0)
		return NULL;
	return p;
}

static int write_image_record(const char *record_dir, const struct gd_disk_usage *u,
			      struct gdn_err **err)
{
	_cleanup_free_ char *path = gdn_path_join(record_dir, GD_VOLUME_IMAGE);
	char text[64];
	int n =
	    snprintf(text, sizeof(text), "%" PRIu64 " %" PRIu64 "\n", u->apparent_bytes, u->inodes);
	if (!path)
		return gdn_err_set(err, ENOMEM, "cannot record the image size");
	return gdn_fs_write_atomic(path, text, (size_t)n, 0600, err);
}

/* The project id, limits and the id record of a new volume (open at vol_fd). The id is freed
 * again if it could not be set on the volume (gd_volume_remove finds it there otherwise). */
static int apply_quota(const struct gd_config *cfg, const char *handle, int vol_fd,
		       const struct gd_quota_plan *plan, struct gdn_log *log, struct gdn_err **err)
{
	uint32_t id = 0;
	int r = gd_quota_alloc_id(cfg->store, handle, &id, err);
	if (r < 0)
		return r;
	r = gd_quota_set_project(vol_fd, id, err);
	if (r < 0) {
		_cleanup_err_ struct gdn_err *e = NULL;
		(void)gd_quota_free_id(cfg->store, id, handle, &e);
		return r;
	}
	r = gd_quota_set_limits(vol_fd, id, plan, err);
	if (r < 0)
		return gdn_err_wrap(err, "applying disk limits");
	char ids[16], bytes[24], inodes[24];
	(void)snprintf(ids, sizeof(ids), "%" PRIu32, id);
	(void)snprintf(bytes, sizeof(bytes), "%" PRIu64, plan->bytes);
	(void)snprintf(inodes, sizeof(inodes), "%" PRIu64, plan->inodes);
	gdn_log_debug(log, "project-quota-set", "projectID", ids, "byte_limit", bytes,
		      "inode_limit", inodes, NULL);
	return 0;
}

/* What the lowerdirs hold (`lowers`: one per line), summed: an overestimate where upper layers
 * shadow lower ones, as grootfs's sum of its layers' sizes is. */
static int lowers_usage(const char *lowers, struct gd_disk_usage *ret, struct gdn_err **err)
{
	*ret = (struct gd_disk_usage){0};
	for (const char *l = lowers; *l;) {
		const char *nl = strchr(l, '\n');
		_cleanup_free_ char *one = strndup(l, nl ? (size_t)(nl - l) : strlen(l));
		struct gd_disk_usage u;
		if (!one)
			return gdn_err_set(err, ENOMEM, "sizing the image");
		int r = gd_disk_usage(one, true, &u, err);
		if (r < 0)
			return gdn_err_wrap(err, "sizing the image");
		ret->apparent_bytes += u.apparent_bytes;
		ret->allocated_bytes += u.allocated_bytes;
		ret->inodes += u.inodes;
		l = nl ? nl + 1 : l + strlen(l);
	}
	return 0;
}

/* The project limits `disk` asks for (*limited false: none asked), after checking the request
 * against the image and the store. */
static int plan_disk(const struct gd_config *cfg, const char *lowers,
		     const struct gd_disk_limits *disk, bool *limited, struct gd_quota_plan *plan,
		     struct gd_disk_usage *image, bool *have_image, struct gdn_err **err)
{
	*limited = disk && (disk->byte_hard > 0 || disk->inode_hard > 0);
	*plan = (struct gd_quota_plan){0};
	*have_image = false;
	if (!*limited)
		return 0;
	if (!disk->exclusive) {
		int r = lowers_usage(lowers, image, err);
		if (r < 0)
			return r;
		*have_image = true;
	}
	/* the request itself first (Garden's message for a limit the image exceeds), then
	 * whether this store can keep it */
	int r = gd_quota_plan(disk, image->apparent_bytes, image->inodes, plan, err);
	if (r < 0)
		return r;
	if (plan->inodes > 0)
		plan->inodes += GD_VOLUME_OVERHEAD_INODES;
	return gd_quota_probe(cfg->store, err);
}

int gd_volume_store_prepare(const struct gd_config *cfg, const char *dir, const char *lowers,
			    const struct gd_disk_limits *disk, struct gdn_log *log, char **ret_vol,
			    struct gdn_err **err)
{
	_cleanup_free_ char *handle = gd_volume_name(dir);
	_cleanup_free_ char *record_dir = gdn_path_join(dir, GDN_DEPOT_VOLUME);
	_cleanup_free_ char *path_record =
	    record_dir ? gdn_path_join(record_dir, GD_VOLUME_PATH) : NULL;
	_cleanup_free_ char *volumes = gdn_path_join(cfg->store, GD_VOLUME_STORE_DIR);
	_cleanup_free_ char *vol = handle ? gd_volume_store_path(cfg, handle) : NULL;
	_cleanup_close_ int vol_fd = -1;
	struct gd_quota_plan plan;
	struct gd_disk_usage image = {0};
	bool limited, have_image;
	struct stat st;

	if (!path_record || !volumes || !vol)
		return gdn_err_set(err, ENOMEM, "cannot create the volume");
	int r = plan_disk(cfg, lowers, disk, &limited, &plan, &image, &have_image, err);
	if (r < 0)
		return r;
	/* without a limit a store of any kind will do; one with project quotas still accounts
	 * the container's usage in a project of its own */
	bool quota = limited || gd_quota_probe(cfg->store, NULL) >= 0;

	if (lstat(vol, &st) == 0 || errno != ENOENT) {
		/* the depot dir did not exist: what is there is left by a crash */
		gdn_log_info(log, "removing-stale-volume", "path", vol, NULL);
		r = gd_volume_remove(cfg, handle, log, err);
		if (r < 0)
			return r;
	}
	if (mkdir(record_dir, 0700) < 0 && errno != EEXIST)
		return gdn_err_set(err, errno, "mkdir '%s'", record_dir);
	r = gdn_fs_mkdir_p(volumes, 0700, err);
	if (r < 0)
		return r;
	/* recorded before it exists, so that every undo finds it */
	r = gdn_fs_write_atomic(path_record, vol, strlen(vol), 0600, err);
	if (r >= 0 && have_image)
		r = write_image_record(record_dir, &image, err);
	if (r < 0)
		return r;
	if (mkdir(vol, 0700) < 0)
		return gdn_err_set(err, errno, "mkdir '%s'", vol);
	vol_fd = open(vol, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (vol_fd < 0)
		return gdn_err_set(err, errno, "open '%s'", vol);
	/* before upper and work exist, which inherit the project: overlayfs renames from work
	 * into upper, which fails (EXDEV) across projects */
	if (quota && (r = apply_quota(cfg, handle, vol_fd, &plan, log, err)) < 0)
		return r;
	*ret_vol = gdn_steal_ptr(&vol);
	return 0;
}

/* Where the container at `dir` keeps its upper and work dirs (malloc'd): the recorded volume,
 * or <dir>/volume for a container made before volumes moved to the store. */
int gd_volume_of(const char *dir, char **ret, struct gdn_err **err)
{
	_cleanup_free_ char *record_dir = gdn_path_join(dir, GDN_DEPOT_VOLUME);
	_cleanup_free_ char *record = record_dir ? gdn_path_join(record_dir, GD_VOLUME_PATH) : NULL;
	_cleanup_err_ struct gdn_err *e = NULL;
	size_t len = 0;

	if (!record)
		return gdn_err_set(err, ENOMEM, "cannot find the volume");
	if (gdn_fs_read_file(record, PATH_MAX, ret, &len, &e) >= 0)
		return 0;
	if (gdn_err_code(e) != -ENOENT)
		return gdn_err_set(err, -gdn_err_code(e), "read the volume's record '%s'", record);
	*ret = gdn_steal_ptr(&record_dir);
	return 0;
}

int gd_volume_remove(const struct gd_config *cfg, const char *handle, struct gdn_log *log,
		     struct gdn_err **err)
{
	_cleanup_free_ char *vol = gd_volume_store_path(cfg, handle);
	_cleanup_err_ struct gdn_err *e = NULL;
	uint32_t id = 0;

	if (!vol)
		return gdn_err_set(err, ENOMEM, "cannot remove the volume");
	_cleanup_close_ int fd = open(vol, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd >= 0 && gd_quota_get_project(fd, &id, &e) < 0)
		id = 0;
	int r = gdn_fs_rm_rf(vol, err);
	if (r < 0)
		return gdn_err_wrap(err, "remove the volume");
	if (id == 0)
		return 0;
	/* an id passed on keeps no limit of this container's */
	struct gd_quota_plan none = {0};
	if (fd >= 0 && gd_quota_set_limits(fd, id, &none, &e) < 0)
		gdn_log_error(log, "clear-project-limits-failed", e, "volume", vol, NULL);
	r = gd_quota_free_id(cfg->store, id, handle, err);
	if (r < 0)
		return r;
	char ids[16];
	(void)snprintf(ids, sizeof(ids), "%" PRIu32, id);
	gdn_log_debug(log, "project-id-freed", "projectID", ids, NULL);
	return 0;
}

/* Whether the container (or, for <handle>@<id>, the pea's process dir) is in the depot. */
static bool container_exists(const struct gd_config *cfg, const char *name)
{
	const char *sep = strstr(name, GD_VOLUME_PEA_SEP);
	_cleanup_free_ char *dir = NULL;

	if (sep && asprintf(&dir, "%s/%.*s/%s/%s", cfg->depot, (int)(sep - name), name,
			    GDN_DEPOT_PROCESSES, sep + strlen(GD_VOLUME_PEA_SEP)) < 0)
		return true;
	if (!sep)
		dir = gdn_path_join(cfg->depot, name);
	return !dir || access(dir, F_OK) == 0 || errno != ENOENT;
}

static void sweep_volumes(const struct gd_config *cfg, struct gdn_log *log)
{
	_cleanup_free_ char *volumes = gdn_path_join(cfg->store, GD_VOLUME_STORE_DIR);
	_cleanup_closedir_ DIR *d = volumes ? opendir(volumes) : NULL;
	struct dirent *ent;

	while (d && (ent = readdir(d))) {
		_cleanup_err_ struct gdn_err *e = NULL;
		if (ent->d_name[0] == '.' || container_exists(cfg, ent->d_name))
			continue;
		if (gd_volume_remove(cfg, ent->d_name, log, &e) < 0)
			gdn_log_error(log, "remove-orphaned-volume-failed", e, "handle",
				      ent->d_name, NULL);
		else
			gdn_log_info(log, "removed-orphaned-volume", "handle", ent->d_name, NULL);
	}
}

/* Whether the volume of `handle` has project id `id`. */
static bool volume_has_id(const struct gd_config *cfg, const char *handle, uint32_t id)
{
	bool valid = handle[0] && !strchr(handle, '/') && strcmp(handle, ".") != 0 &&
		     strcmp(handle, "..") != 0;
	_cleanup_free_ char *vol = valid ? gd_volume_store_path(cfg, handle) : NULL;
	_cleanup_close_ int fd =
	    vol ? open(vol, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
	uint32_t have = 0;
	return fd >= 0 && gd_quota_get_project(fd, &have, NULL) >= 0 && have == id;
}

static void sweep_ids(const struct gd_config *cfg, struct gdn_log *log)
{
	_cleanup_free_ char *ids = gdn_path_join(cfg->store, GD_QUOTA_IDS_DIR);
	_cleanup_closedir_ DIR *d = ids ? opendir(ids) : NULL;
	_cleanup_close_ int store_fd = open(cfg->store, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *ent;

	while (d && (ent = readdir(d))) {
		_cleanup_free_ char *owner = NULL;
		_cleanup_err_ struct gdn_err *e = NULL;
		uint32_t id;
		if (ent->d_name[0] == '.' || gdn_parse_u32(ent->d_name, &id) < 0 ||
		    gd_quota_id_owner(cfg->store, id, &owner, &e) < 0 ||
		    volume_has_id(cfg, owner, id))
			continue;
		struct gd_quota_plan none = {0};
		if (store_fd >= 0)
			(void)gd_quota_set_limits(store_fd, id, &none, NULL);
		if (gd_quota_free_id(cfg->store, id, owner, &e) < 0)
			gdn_log_error(log, "free-orphaned-project-id-failed", e, "projectID",
				      ent->d_name, NULL);
		else
			gdn_log_info(log, "freed-orphaned-project-id", "projectID", ent->d_name,
				     "handle", owner, NULL);
	}
}

void gd_volume_sweep(const struct gd_config *cfg, struct gdn_log *log)
{
	sweep_volumes(cfg, log);
	sweep_ids(cfg, log);
}

/* The image's size: recorded at create (total-scope limits), else known to `sizes` (its lowerdir
 * sized before: an image's layers never change), else measured from the lowerdir and added. */
static int image_usage(const char *dir, json_t *sizes, uint64_t *bytes, uint64_t *inodes,
		       struct gdn_err **err)
{
	_cleanup_free_ char *record_dir = gdn_path_join(dir, GDN_DEPOT_VOLUME);
	_cleanup_free_ char *image = record_dir ? gdn_path_join(record_dir, GD_VOLUME_IMAGE) : NULL;
	_cleanup_free_ char *lowerp =
	    record_dir ? gdn_path_join(record_dir, GD_VOLUME_LOWERDIR) : NULL;
	_cleanup_free_ char *text = NULL;
	_cleanup_free_ char *lower = NULL;
	size_t len = 0;

	if (!image || !lowerp)
		return gdn_err_set(err, ENOMEM, "disk stat");
	if (gdn_fs_read_file(image, 128, &text, &len, NULL) >= 0 &&
	    sscanf(text, "%" SCNu64 " %" SCNu64, bytes, inodes) == 2)
		return 0;
	int r = gdn_fs_read_file(lowerp, 1 << 20, &lower, &len, err);
	if (r < 0)
		return gdn_err_wrap(err, "read the volume's lowerdir");
	json_int_t b = -1, i = -1;
	if (json_unpack(json_object_get(sizes, lower), "[II]", &b, &i) == 0 && b >= 0 && i >= 0) {
		*bytes = (uint64_t)b;
		*inodes = (uint64_t)i;
		return 0;
	}
	struct gd_disk_usage u;
	r = lowers_usage(lower, &u, err);
	if (r < 0)
		return r;
	*bytes = u.apparent_bytes;
	*inodes = u.inodes;
	if (sizes && json_object_size(sizes) >= GD_IMAGE_SIZES_MAX)
		json_object_clear(sizes);
	if (sizes)
		json_object_set_new(sizes, lower,
				    json_pack("[II]", (json_int_t)*bytes, (json_int_t)*inodes));
	return 0;
}

int gd_volume_disk_stat(const struct gd_config *cfg, const char *dir, json_t *sizes,
			struct gd_disk_stat *ret, struct gdn_err **err)
{
	_cleanup_free_ char *vol = NULL;
	_cleanup_err_ struct gdn_err *e = NULL;
	uint64_t ib = 0, ii = 0;
	uint32_t id = 0;

	int r = gd_volume_of(dir, &vol, err);
	if (r < 0)
		return r;
	_cleanup_close_ int fd = open(vol, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return gdn_err_set(err, errno, "disk stat: open '%s'", vol);
	struct gd_quota_usage q;
	if (gd_quota_get_project(fd, &id, &e) >= 0 && id != 0 &&
	    gd_quota_probe(cfg->store, NULL) >= 0 && gd_quota_get(fd, id, &q, &e) >= 0) {
		ret->exclusive_bytes = q.bytes;
		ret->exclusive_inodes =
		    q.inodes > GD_VOLUME_OVERHEAD_INODES ? q.inodes - GD_VOLUME_OVERHEAD_INODES : 0;
	} else {
		_cleanup_free_ char *upper = gdn_path_join(vol, "upper");
		struct gd_disk_usage u;
		if (!upper)
			return gdn_err_set(err, ENOMEM, "disk stat");
		r = gd_disk_usage(upper, false, &u, err);
		if (r < 0)
			return r;
		ret->exclusive_bytes = u.allocated_bytes;
		ret->exclusive_inodes = u.inodes;
	}
	r = image_usage(dir, sizes, &ib, &ii, err);
	if (r < 0)
		return r;
	ret->total_bytes = ret->exclusive_bytes + ib;
	ret->total_inodes = ret->exclusive_inodes + ii;
	return 0;
}

/* 1: the record at <dir>/volume/lowerdir names `path` on one of its lines (or cannot be read:
 * that counts as a use); 0: it does not, or there is none. */
static int record_names(const char *dir, const char *path)
{
	char rec[PATH_MAX];
	_cleanup_free_ char *text = NULL;
	_cleanup_err_ struct gdn_err *e = NULL;
	size_t len = 0, plen = strlen(path);
	int n = snprintf(rec, sizeof(rec), "%s/%s/%s", dir, GDN_DEPOT_VOLUME, GD_VOLUME_LOWERDIR);

	if (n < 0 || (size_t)n >= sizeof(rec))
		return 1;
	if (gdn_fs_read_file(rec, 1 << 20, &text, &len, &e) < 0)
		return gdn_err_code(e) == -ENOENT || gdn_err_code(e) == -ENOTDIR ? 0 : 1;
	for (const char *line = text; *line;) {
		const char *nl = strchr(line, '\n');
		size_t l = nl ? (size_t)(nl - line) : strlen(line);
		if (l == plen && memcmp(line, path, plen) == 0)
			return 1;
		line += l + (nl ? 1 : 0);
	}
	return 0;
}

/* The peas of the container at `dir` (its processes/ dirs with volume records). */
static bool peas_record(const char *dir, const char *path)
{
	_cleanup_free_ char *procs = gdn_path_join(dir, GDN_DEPOT_PROCESSES);
	_cleanup_closedir_ DIR *d = procs ? opendir(procs) : NULL;
	struct dirent *ent;

	if (!d)
		return !procs || (errno != ENOENT && errno != ENOTDIR);
	while ((ent = readdir(d))) {
		_cleanup_free_ char *pdir = NULL;
		if (ent->d_name[0] == '.')
			continue;
		pdir = gdn_path_join(procs, ent->d_name);
		if (!pdir || record_names(pdir, path))
			return true;
	}
	return false;
}

bool gd_volume_lower_recorded(const char *depot, const char *path)
{
	_cleanup_closedir_ DIR *d = depot ? opendir(depot) : NULL;
	struct dirent *ent;

	if (!d)
		return depot && errno != ENOENT;
	while ((ent = readdir(d))) {
		_cleanup_free_ char *dir = NULL;
		if (ent->d_name[0] == '.')
			continue;
		dir = gdn_path_join(depot, ent->d_name);
		if (!dir || record_names(dir, path) || peas_record(dir, path))
			return true;
	}
	return false;
}
