/* The built-in volumizer.
 *
 * Per container (<dir> = <depot>/<handle>):
 *   <dir>/rootfs          overlay mount point (lowerdir = base or shifted copy); mounted in
 *                         guardian's mount namespace only until the container has started
 *                         (the container's own mount namespace keeps it), see gd_volume_detach
 *   <dir>/volume/lowerdir the overlay's lowerdir, recorded before the mount: what
 *                         gd_volume_mount remounts and what keeps a shifted copy in use
 *   <store>/volumes/<handle>/upper  upperdir (volume_store.c); its root dir gets the base
 *                         root's mode and the container root's host uid/gid, so the merged / is
 *                         owned by the container's root
 *   <store>/volumes/<handle>/work   workdir
 *
 * Shifted copies, for unprivileged containers (their user namespace maps container uid 0 to
 * host maxid and 1..N to host start..), so that they see their rootfs owned by their own users:
 *   <store>/shifted/<key>.lock         flock(LOCK_EX) held while checking/building and mounting
 *   <store>/shifted/<key>/stamp        base realpath, mapping, base root dir stat, generation
 *   <store>/shifted/<key>/rootfs.<gen> the copy; every uid/gid mapped container -> host
 *   <store>/shifted/<key>/rootfs       symlink to the current rootfs.<gen> (for people)
 *   <store>/shifted/<key>/tmp.<gen>/   a build in progress (removed if found under the lock)
 * <key> is a 64-bit FNV-1a hash (hex) of the base's realpath and the mapping. The copy is made
 * with `cp -a --reflink=auto`, then walked with nftw(FTW_PHYS) applying lchown; set-id bits
 * (cleared by chown) are restored, and file capabilities (security.capability, removed by chown)
 * are rewritten as v3 with rootid = the container root's host uid. Hard links are shifted once.
 * POSIX ACL entries naming users/groups are not shifted.
 * When the base's root dir stat changes, a new generation is built; older generations are
 * removed once no container records them as its lowerdir and no overlay mount (per
 * /proc/self/mountinfo) uses them. Changes deeper in
 * the base that leave its root dir alone are not noticed (as with any overlay lower, the base
 * must not be modified in place while containers use it). */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <search.h>
#include <string.h>
#include <time.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <linux/capability.h>
#include "lib/depot.h"
#include "lib/buf.h"
#include "lib/fs.h"
#include "lib/path.h"
#include "lib/proc.h"
#include "lib/util.h"
#include "cmd/guardian/disk_usage.h"
#include "cmd/guardian/mountinfo.h"
#include "cmd/guardian/volumizer.h"

#define CAPS_XATTR "security.capability"
#define STAMP_VERSION "garden-c shifted rootfs v1"
#define UMOUNT_TRIES 5
#define UMOUNT_DELAY_NS (100 * 1000 * 1000L)

uint32_t gd_idmap_host(uint32_t maxid, uint32_t start, uint32_t length, uint32_t cid)
{
	if (cid == 0)
		return maxid;
	if (cid - 1 < length && (uint64_t)start + (cid - 1) <= UINT32_MAX)
		return start + (cid - 1);
	return maxid;
}

static uint32_t host_uid(const struct gd_config *cfg, uint32_t cid)
{
	return gd_idmap_host(cfg->maxid, cfg->uid_map_start, cfg->uid_map_length, cid);
}

static uint32_t host_gid(const struct gd_config *cfg, uint32_t cid)
{
	return gd_idmap_host(cfg->maxid, cfg->gid_map_start, cfg->gid_map_length, cid);
}

/* ---- the shift walk ------------------------------------------------------------------------ */

/* nftw passes no user data: the walk's state lives here for its duration (one walk at a time;
 * guardian runs container operations in single-threaded workers). */
static struct shift_walk {
	const struct gd_config *cfg;
	void *seen; /* tsearch tree of gd_inode_key, for files with several links */
	int errnum;
	char *failed_path;
} walk;

/* Rewrites a file capability xattr as v3 with rootid = host uid of its (container) rootid. */
static int shift_fcaps(const char *path, const struct gd_config *cfg, const void *buf, ssize_t n)
{
	struct vfs_ns_cap_data ns;
	memset(&ns, 0, sizeof(ns));
	uint32_t magic = 0, rootid = 0;
	if (n < (ssize_t)sizeof(uint32_t))
		return 0;
	memcpy(&magic, buf, sizeof(magic));
	magic = le32toh(magic);
	uint32_t rev = magic & VFS_CAP_REVISION_MASK;
	if (rev == VFS_CAP_REVISION_1 && n == XATTR_CAPS_SZ_1) {
		memcpy(&ns, buf, XATTR_CAPS_SZ_1);
	} else if (rev == VFS_CAP_REVISION_2 && n == XATTR_CAPS_SZ_2) {
		memcpy(&ns, buf, XATTR_CAPS_SZ_2);
	} else if (rev == VFS_CAP_REVISION_3 && n == XATTR_CAPS_SZ_3) {
		memcpy(&ns, buf, XATTR_CAPS_SZ_3);
		rootid = le32toh(ns.rootid);
	} else {
		return 0; /* unknown format: leave it dropped */
	}
	ns.magic_etc = htole32(VFS_CAP_REVISION_3 | (magic & VFS_CAP_FLAGS_EFFECTIVE));
	ns.rootid = htole32(host_uid(cfg, rootid));
	if (lsetxattr(path, CAPS_XATTR, &ns, XATTR_CAPS_SZ_3, 0) < 0)
		return -errno;
	return 0;
}

static int shift_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)ftw;
	if (type == FTW_NS || type == FTW_DNR) {
		walk.errnum = EACCES;
		walk.failed_path = strdup(path);
		return 1;
	}
	if (st->st_nlink > 1 && !S_ISDIR(st->st_mode)) {
		struct gd_inode_key *k = malloc(sizeof(*k));
		if (!k) {
			walk.errnum = ENOMEM;
			return 1;
		}
		k->dev = st->st_dev;
		k->ino = st->st_ino;
		void **found = tsearch(k, &walk.seen, gd_inode_cmp);
		if (!found) {
			free(k);
			walk.errnum = ENOMEM;
			return 1;
		}
		if (*found != k) { /* already shifted through another link */
			free(k);
			return 0;
		}
	}

	uid_t uid = host_uid(walk.cfg, st->st_uid);
	gid_t gid = host_gid(walk.cfg, st->st_gid);
	if (uid == st->st_uid && gid == st->st_gid)
		return 0;

	char caps[XATTR_CAPS_SZ_3 + 8];
	ssize_t ncaps = -1;
	if (S_ISREG(st->st_mode))
		ncaps = lgetxattr(path, CAPS_XATTR, caps, sizeof(caps));

	int r = 0;
	if (lchown(path, uid, gid) < 0)
		r = -errno;
	/* chown drops set-id bits (even for root) and file capabilities: put them back. */
	if (r == 0 && !S_ISLNK(st->st_mode) && (st->st_mode & (S_ISUID | S_ISGID)) &&
	    chmod(path, st->st_mode & 07777) < 0)
		r = -errno;
	if (r == 0 && ncaps > 0)
		r = shift_fcaps(path, walk.cfg, caps, ncaps);
	if (r < 0) {
		walk.errnum = -r;
		walk.failed_path = strdup(path);
		return 1;
	}
	return 0;
}

static int shift_tree(const struct gd_config *cfg, const char *root, struct gdn_err **err)
{
	walk = (struct shift_walk){.cfg = cfg};
	int r = nftw(root, shift_one, 64, FTW_PHYS);
	int errnum = walk.errnum ? walk.errnum : (r < 0 ? errno : 0);
	_cleanup_free_ char *failed = walk.failed_path;
	tdestroy(walk.seen, free);
	walk = (struct shift_walk){0};
	if (errnum)
		return gdn_err_set(err, errnum, "cannot shift ownership of '%s'",
				   failed ? failed : root);
	return 0;
}

/* ---- the shifted copy cache ---------------------------------------------------------------- */

static uint64_t fnv1a(uint64_t h, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= UINT64_C(0x100000001b3);
	}
	return h;
}

/* The stamp without its generation line: what must match for a copy to be reused. */
static char *stamp_identity(const struct gd_config *cfg, const char *base, const struct stat *st)
{
	char *s = NULL;
	if (asprintf(&s,
		     "%s\nbase %s\nuid %" PRIu32 " %" PRIu32 " %" PRIu32 "\ngid %" PRIu32
		     " %" PRIu32 " %" PRIu32 "\nstat %ju %ju %jd.%09ld %jd.%09ld\n",
		     STAMP_VERSION, base, cfg->maxid, cfg->uid_map_start, cfg->uid_map_length,
		     cfg->maxid, cfg->gid_map_start, cfg->gid_map_length, (uintmax_t)st->st_dev,
		     (uintmax_t)st->st_ino, (intmax_t)st->st_mtim.tv_sec, st->st_mtim.tv_nsec,
		     (intmax_t)st->st_ctim.tv_sec, st->st_ctim.tv_nsec) < 0)
		return NULL;
	return s;
}

static char *cache_key(const struct gd_config *cfg, const char *base)
{
	char mapping[128];
	snprintf(mapping, sizeof(mapping),
		 "\n%" PRIu32 ":%" PRIu32 ":%" PRIu32 ":%" PRIu32 ":%" PRIu32, cfg->maxid,
		 cfg->uid_map_start, cfg->uid_map_length, cfg->gid_map_start, cfg->gid_map_length);
	uint64_t h = fnv1a(UINT64_C(0xcbf29ce484222325), base, strlen(base));
	h = fnv1a(h, mapping, strlen(mapping));
	char *key = NULL;
	return asprintf(&key, "%016" PRIx64, h) < 0 ? NULL : key;
}

/* The generation recorded in a stamp whose identity part equals `identity` (malloc'd), else
 * NULL. */
static char *stamp_generation(const char *stamp, const char *identity)
{
	size_t n = strlen(identity);
	if (strncmp(stamp, identity, n) != 0 || strncmp(stamp + n, "gen ", 4) != 0)
		return NULL;
	const char *g = stamp + n + 4;
	size_t len = strcspn(g, "\n");
	if (len == 0 || len > 32 || strspn(g, "0123456789abcdef") != len)
		return NULL;
	return strndup(g, len);
}

static bool is_dir(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Whether any overlay mount still uses `needle` (a "/<key>/rootfs.<gen>" fragment). */
static bool lower_in_use(const struct gd_mounts *mounts, const char *needle)
{
	for (size_t i = 0; i < mounts->n; i++) {
		const char *o = mounts->v[i].super_opts;
		const char *p = strstr(o, needle);
		/* followed by the end of the path: an option separator, ':' or end */
		if (strcmp(mounts->v[i].fstype, "overlay") == 0 && p) {
			char c = p[strlen(needle)];
			if (c == '\0' || c == ',' || c == ':' || c == '\\')
				return true;
		}
	}
	return false;
}

/* Removes builds left by a crashed builder and generations other than `gen` that nothing uses.
 * Called with the lock held. Failures are only logged. */
static void collect_garbage(const struct gd_config *cfg, const char *keydir, const char *key,
			    const char *gen, struct gdn_log *log)
{
	_cleanup_err_ struct gdn_err *e = NULL;
	_cleanup_mounts_ struct gd_mounts mounts = {0};
	_cleanup_closedir_ DIR *d = opendir(keydir);
	if (!d || gd_mountinfo_read(NULL, &mounts, &e) < 0)
		return;
	struct dirent *ent;
	while ((ent = readdir(d))) {
		const char *name = ent->d_name;
		bool stale = false;
		if (strncmp(name, "tmp.", 4) == 0) {
			stale = true;
		} else if (strncmp(name, "rootfs.", 7) == 0 && strcmp(name + 7, gen) != 0 &&
			   strstr(name, ".new") == NULL) {
			char needle[NAME_MAX + 64];
			int n = snprintf(needle, sizeof(needle), "/%s/%s", key, name);
			stale =
			    n > 0 && (size_t)n < sizeof(needle) && !lower_in_use(&mounts, needle);
		}
		_cleanup_free_ char *path = stale ? gdn_path_join(keydir, name) : NULL;
		if (path && strncmp(name, "rootfs.", 7) == 0 &&
		    gd_volume_lower_recorded(cfg->depot, path))
			stale = false;
		if (!stale)
			continue;
		_cleanup_err_ struct gdn_err *rm_err = NULL;
		if (path && gdn_fs_rm_rf(path, &rm_err) < 0)
			gdn_log_error(log, "remove-stale-shifted-rootfs-failed", rm_err, "path",
				      path, NULL);
		else if (path)
			gdn_log_info(log, "removed-stale-shifted-rootfs", "path", path, NULL);
	}
}

static int copy_tree(const char *src, const char *dst, struct gdn_err **err)
{
	const char *argv[] = {"cp", "-a", "--reflink=auto", "--", src, dst, NULL};
	struct gdn_spawn_opts o = {.path = "cp", .argv = (char *const *)argv, .stdin_fd = -1};
	_cleanup_free_ char *out = NULL;
	int status = 0;
	int r = gdn_proc_run(&o, &status, &out, err);
	if (r < 0)
		return r;
	if (status != 0) {
		size_t len = out ? strlen(out) : 0;
		while (len > 0 && out[len - 1] == '\n')
			out[--len] = '\0';
		return gdn_err_set(err, 0, "cannot copy '%s': cp: exit status %d%s%s", src, status,
				   len ? ": " : "", len ? out : "");
	}
	return 0;
}

/* Builds a new generation (lock held). Returns the generation id (malloc'd). */
static int build_shifted(const struct gd_config *cfg, const char *base, const char *keydir,
			 const char *identity, struct gdn_log *log, char **ret_gen,
			 struct gdn_err **err)
{
	_cleanup_free_ char *gen = NULL;
	_cleanup_free_ char *tmp = NULL;
	_cleanup_free_ char *tmp_rootfs = NULL;
	_cleanup_free_ char *final = NULL;
	_cleanup_free_ char *stamp = NULL;
	_cleanup_free_ char *stamp_path = NULL;
	_cleanup_free_ char *link_tmp = NULL;
	_cleanup_free_ char *link = NULL;
	uint64_t started = gdn_now_mono_ns();

	if (asprintf(&gen, "%016" PRIx64, gdn_now_real_ns()) < 0)
		gen = NULL;
	if (!gen || asprintf(&tmp, "%s/tmp.%s", keydir, gen) < 0)
		tmp = NULL;
	if (!tmp || asprintf(&final, "%s/rootfs.%s", keydir, gen) < 0)
		final = NULL;
	if (!final || asprintf(&stamp, "%sgen %s\n", identity, gen) < 0)
		stamp = NULL;
	if (!stamp || asprintf(&link_tmp, "%s/rootfs.new", keydir) < 0)
		link_tmp = NULL;
	tmp_rootfs = tmp ? gdn_path_join(tmp, "rootfs") : NULL;
	stamp_path = gdn_path_join(keydir, "stamp");
	link = gdn_path_join(keydir, "rootfs");
	if (!link_tmp || !tmp_rootfs || !stamp_path || !link)
		return gdn_err_set(err, ENOMEM, "cannot build a shifted rootfs");

	gdn_log_info(log, "building-shifted-rootfs", "base", base, "path", final, NULL);
	int r = gdn_fs_rm_rf(tmp, err);
	if (r < 0)
		return r;
	if (mkdir(tmp, 0700) < 0)
		return gdn_err_set(err, errno, "mkdir '%s'", tmp);
	r = copy_tree(base, tmp_rootfs, err);
	if (r >= 0)
		r = shift_tree(cfg, tmp_rootfs, err);
	if (r >= 0 && rename(tmp_rootfs, final) < 0)
		r = gdn_err_set(err, errno, "rename '%s' to '%s'", tmp_rootfs, final);
	if (r < 0) {
		_cleanup_err_ struct gdn_err *rm_err = NULL;
		(void)gdn_fs_rm_rf(tmp, &rm_err);
		return r;
	}
	(void)rmdir(tmp);
	/* The stamp is the commit point; the symlink is only for people. */
	r = gdn_fs_write_atomic(stamp_path, stamp, strlen(stamp), 0600, err);
	if (r < 0)
		return r;
	(void)unlink(link_tmp);
	if (symlink(final + strlen(keydir) + 1, link_tmp) < 0 || rename(link_tmp, link) < 0)
		gdn_log_info(log, "shifted-rootfs-symlink-failed", "path", link, NULL);

	char d[GDN_LOG_DURATION_MAX];
	gdn_log_info(log, "built-shifted-rootfs", "path", final, GDN_LOG_DURATION,
		     gdn_log_duration(started, d), NULL);
	*ret_gen = gdn_steal_ptr(&gen);
	return 0;
}

/* Takes the lock of the shifted copy of `base` and makes sure the copy is current. On success
 * *ret_lock_fd holds the lock (close it to release) and *ret_path is the copy's path. */
static int shifted_locked(const struct gd_config *cfg, const char *base_in, struct gdn_log *log,
			  int *ret_lock_fd, char **ret_path, struct gdn_err **err)
{
	_cleanup_free_ char *base = realpath(base_in, NULL);
	_cleanup_free_ char *shifted = NULL;
	_cleanup_free_ char *key = NULL;
	_cleanup_free_ char *keydir = NULL;
	_cleanup_free_ char *lock_path = NULL;
	_cleanup_free_ char *stamp_path = NULL;
	_cleanup_free_ char *stamp = NULL;
	_cleanup_free_ char *identity = NULL;
	_cleanup_free_ char *gen = NULL;
	_cleanup_free_ char *path = NULL;
	_cleanup_close_ int lock_fd = -1;
	struct stat st;

	if (!base)
		return gdn_err_set(err, errno, "rootfs '%s'", base_in);
	if (!cfg->store)
		return gdn_err_set(err, EINVAL, "no volumizer store configured");
	if (stat(base, &st) < 0)
		return gdn_err_set(err, errno, "rootfs '%s'", base);
	if (!S_ISDIR(st.st_mode))
		return gdn_err_set(err, ENOTDIR, "rootfs '%s'", base);
	shifted = gdn_path_join(cfg->store, "shifted");
	key = cache_key(cfg, base);
	keydir = shifted && key ? gdn_path_join(shifted, key) : NULL;
	if (keydir && asprintf(&lock_path, "%s.lock", keydir) < 0)
		lock_path = NULL;
	stamp_path = keydir ? gdn_path_join(keydir, "stamp") : NULL;
	identity = stamp_identity(cfg, base, &st);
	if (!lock_path || !stamp_path || !identity)
		return gdn_err_set(err, ENOMEM, "cannot prepare the shifted rootfs");

	int r = gdn_fs_mkdir_p(shifted, 0700, err);
	if (r < 0)
		return r;
	lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (lock_fd < 0)
		return gdn_err_set(err, errno, "open '%s'", lock_path);
	while (flock(lock_fd, LOCK_EX) < 0)
		if (errno != EINTR)
			return gdn_err_set(err, errno, "flock '%s'", lock_path);

	r = gdn_fs_mkdir_p(keydir, 0700, err);
	if (r < 0)
		return r;
	size_t len = 0;
	_cleanup_err_ struct gdn_err *read_err = NULL;
	if (gdn_fs_read_file(stamp_path, 1 << 16, &stamp, &len, &read_err) >= 0)
		gen = stamp_generation(stamp, identity);
	if (gen && asprintf(&path, "%s/rootfs.%s", keydir, gen) < 0)
		path = NULL;
	if (!path || !is_dir(path)) {
		free(gen);
		gen = NULL;
		free(path);
		path = NULL;
		r = build_shifted(cfg, base, keydir, identity, log, &gen, err);
		if (r < 0)
			return r;
		if (asprintf(&path, "%s/rootfs.%s", keydir, gen) < 0)
			return gdn_err_set(err, ENOMEM, "cannot prepare the shifted rootfs");
	}
	collect_garbage(cfg, keydir, key, gen, log);
	*ret_lock_fd = gdn_steal_fd(&lock_fd);
	*ret_path = gdn_steal_ptr(&path);
	return 0;
}

int gd_volume_shifted(const struct gd_config *cfg, const char *base, struct gdn_log *log,
		      char **ret_path, struct gdn_err **err)
{
	int lock_fd = -1;
	int r = shifted_locked(cfg, base, log, &lock_fd, ret_path, err);
	if (r >= 0)
		(void)close(lock_fd);
	return r;
}

/* ---- the overlay mount --------------------------------------------------------------------- */

/* Escapes the characters overlayfs treats specially in option values. In `lowers` (the record's
 * lowerdirs, one per line) a newline becomes the ':' that separates them. */
static int append_escaped(struct gdn_buf *b, const char *s, bool lowers)
{
	for (; *s; s++) {
		if (lowers && *s == '\n') {
			if (gdn_buf_append(b, ":", 1) < 0)
				return -ENOMEM;
			continue;
		}
		if ((*s == '\\' || *s == ',' || *s == ':') && gdn_buf_append(b, "\\", 1) < 0)
			return -ENOMEM;
		if (gdn_buf_append(b, s, 1) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* `lowers`: the lower dirs, top first, one per line (the record's format). */
static int mount_overlay(const char *lowers, const char *upper, const char *work,
			 const char *target, struct gdn_err **err)
{
	_cleanup_buf_ struct gdn_buf o = {0};
	int r = gdn_buf_puts(&o, "lowerdir=");
	if (r >= 0)
		r = append_escaped(&o, lowers, true);
	if (r >= 0)
		r = gdn_buf_puts(&o, ",upperdir=");
	if (r >= 0)
		r = append_escaped(&o, upper, false);
	if (r >= 0)
		r = gdn_buf_puts(&o, ",workdir=");
	if (r >= 0)
		r = append_escaped(&o, work, false);
	if (r < 0)
		return gdn_err_set(err, ENOMEM, "cannot mount '%s'", target);
	if (mount("overlay", target, "overlay", 0, o.data) < 0)
		return gdn_err_set(err, errno, "cannot mount overlay on '%s'", target);
	return 0;
}

static int mkdir_mode(const char *path, mode_t mode, struct gdn_err **err)
{
	if (mkdir(path, mode) < 0 && errno != EEXIST)
		return gdn_err_set(err, errno, "mkdir '%s'", path);
	if (chmod(path, mode) < 0)
		return gdn_err_set(err, errno, "chmod '%s'", path);
	return 0;
}

/* The volume (in the store, with `disk`'s limits), its lowerdir record (`lowers`: one per
 * line, top first) and its mount; the merged root gets `uid`, `gid` and `mode`. */
static int make_volume(const struct gd_config *cfg, const char *dir, const char *lowers, uid_t uid,
		       gid_t gid, mode_t mode, const struct gd_disk_limits *disk,
		       struct gdn_log *log, struct gdn_err **err)
{
	_cleanup_free_ char *rootfs = gdn_path_join(dir, GDN_DEPOT_ROOTFS);
	_cleanup_free_ char *record_dir = gdn_path_join(dir, GDN_DEPOT_VOLUME);
	_cleanup_free_ char *record =
	    record_dir ? gdn_path_join(record_dir, GD_VOLUME_LOWERDIR) : NULL;
	_cleanup_free_ char *vol = NULL;

	if (!rootfs || !record)
		return gdn_err_set(err, ENOMEM, "cannot create the volume");
	int r = gd_volume_store_prepare(cfg, dir, lowers, disk, log, &vol, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *upper = gdn_path_join(vol, "upper");
	_cleanup_free_ char *work = gdn_path_join(vol, "work");
	if (!upper || !work)
		return gdn_err_set(err, ENOMEM, "cannot create the volume");
	r = mkdir_mode(rootfs, 0755, err);
	if (r >= 0)
		r = mkdir_mode(upper, 0755, err);
	if (r >= 0)
		r = mkdir_mode(work, 0700, err);
	if (r < 0)
		return r;
	if (chown(upper, uid, gid) < 0)
		return gdn_err_set(err, errno, "chown '%s'", upper);
	if (chmod(upper, mode & 07777) < 0)
		return gdn_err_set(err, errno, "chmod '%s'", upper);
	r = gdn_fs_write_atomic(record, lowers, strlen(lowers), 0600, err);
	if (r >= 0)
		r = mount_overlay(lowers, upper, work, rootfs, err);
	if (r < 0)
		return r;
	gdn_log_debug(log, "mounted-rootfs", "lowerdir", lowers, "path", rootfs, "volume", vol,
		      NULL);
	return 0;
}

int gd_volume_create_layers(const struct gd_config *cfg, const char *dir, char *const *lowers,
			    bool privileged, const struct gd_disk_limits *disk, struct gdn_log *log,
			    struct gdn_err **err)
{
	_cleanup_buf_ struct gdn_buf text = {0};
	int r = 0;

	for (char *const *l = lowers; r >= 0 && *l; l++) {
		if (strchr(*l, '\n'))
			return gdn_err_set(err, EINVAL, "lowerdir '%s'", *l);
		r = gdn_buf_printf(&text, "%s%s", l == lowers ? "" : "\n", *l);
	}
	if (r >= 0)
		r = gdn_buf_append(&text, "", 1);
	if (r < 0 || !text.data)
		return gdn_err_set(err, ENOMEM, "cannot create the volume");
	uid_t uid = privileged ? 0 : host_uid(cfg, 0);
	gid_t gid = privileged ? 0 : host_gid(cfg, 0);
	return make_volume(cfg, dir, text.data, uid, gid, 0755, disk, log, err);
}

int gd_volume_create(const struct gd_config *cfg, const char *dir, const char *base,
		     bool privileged, const struct gd_disk_limits *disk, struct gdn_log *log,
		     struct gdn_err **err)
{
	_cleanup_free_ char *lower = NULL;
	_cleanup_close_ int lock_fd = -1;
	struct stat st;
	int r;

	if (stat(base, &st) < 0)
		return gdn_err_set(err, errno, "rootfs '%s'", base);
	if (!S_ISDIR(st.st_mode))
		return gdn_err_set(err, ENOTDIR, "rootfs '%s'", base);

	uid_t uid = privileged ? st.st_uid : host_uid(cfg, st.st_uid);
	gid_t gid = privileged ? st.st_gid : host_gid(cfg, st.st_gid);
	if (privileged) {
		lower = realpath(base, NULL);
		if (!lower)
			return gdn_err_set(err, errno, "rootfs '%s'", base);
	} else {
		/* Keep the lock across the mount so that no concurrent rebuild collects this
		 * generation between the check and the mount. */
		r = shifted_locked(cfg, base, log, &lock_fd, &lower, err);
		if (r < 0)
			return r;
	}
	if (strchr(lower, '\n'))
		return gdn_err_set(err, EINVAL, "rootfs '%s' has a newline in its path", base);
	return make_volume(cfg, dir, lower, uid, gid, st.st_mode, disk, log, err);
}

int gd_volume_mount(const char *dir, const char *target, struct gdn_err **err)
{
	_cleanup_free_ char *volume = gdn_path_join(dir, GDN_DEPOT_VOLUME);
	_cleanup_free_ char *record = volume ? gdn_path_join(volume, GD_VOLUME_LOWERDIR) : NULL;
	_cleanup_free_ char *vol = NULL;
	_cleanup_free_ char *lower = NULL;
	size_t len = 0;

	if (!record)
		return gdn_err_set(err, ENOMEM, "cannot mount the volume");
	int r = gd_volume_of(dir, &vol, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *upper = gdn_path_join(vol, "upper");
	_cleanup_free_ char *work = gdn_path_join(vol, "work");
	if (!upper || !work)
		return gdn_err_set(err, ENOMEM, "cannot mount the volume");
	r = gdn_fs_read_file(record, 1 << 20, &lower, &len, err);
	if (r < 0)
		return gdn_err_wrap(err, "read the volume's lowerdir");
	return mount_overlay(lower, upper, work, target, err);
}

void gd_volume_detach(const char *dir, struct gdn_log *log)
{
	_cleanup_free_ char *rootfs = gdn_path_join(dir, GDN_DEPOT_ROOTFS);
	if (rootfs && umount2(rootfs, MNT_DETACH | UMOUNT_NOFOLLOW) < 0) {
		_cleanup_err_ struct gdn_err *e = NULL;
		(void)gdn_err_set(&e, errno, "cannot detach '%s'", rootfs);
		gdn_log_error(log, "detach-rootfs-failed", e, NULL);
	}
}

/* ---- unmounting ---------------------------------------------------------------------------- */

struct target {
	const char *path;
	size_t order;
};

static int deepest_first(const void *a, const void *b)
{
	const struct target *x = a, *y = b;
	size_t lx = strlen(x->path), ly = strlen(y->path);
	if (lx != ly)
		return lx > ly ? -1 : 1;
	return x->order > y->order ? -1 : (x->order < y->order ? 1 : 0);
}

static int unmount_one(const char *path, struct gdn_log *log, struct gdn_err **err)
{
	for (int i = 0; i < UMOUNT_TRIES; i++) {
		if (umount2(path, UMOUNT_NOFOLLOW) == 0 || errno == EINVAL || errno == ENOENT)
			return 0;
		if (errno != EBUSY)
			return gdn_err_set(err, errno, "cannot unmount '%s'", path);
		struct timespec ts = {0, UMOUNT_DELAY_NS};
		(void)nanosleep(&ts, NULL);
	}
	if (umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW) < 0 && errno != EINVAL && errno != ENOENT)
		return gdn_err_set(err, errno, "cannot detach '%s'", path);
	gdn_log_info(log, "busy-mount-detached", "path", path, NULL);
	return 0;
}

int gd_volume_unmount_all(const char *dir, struct gdn_log *log, struct gdn_err **err)
{
	_cleanup_free_ char *real = realpath(dir, NULL);
	_cleanup_mounts_ struct gd_mounts mounts = {0};
	_cleanup_free_ struct target *targets = NULL;
	if (!real)
		return errno == ENOENT ? 0 : gdn_err_set(err, errno, "realpath '%s'", dir);
	int r = gd_mountinfo_read(NULL, &mounts, err);
	if (r < 0)
		return r;
	targets = calloc(mounts.n + 1, sizeof(*targets));
	if (!targets)
		return gdn_err_set(err, ENOMEM, "cannot unmount '%s'", dir);
	size_t n = 0, len = strlen(real);
	for (size_t i = 0; i < mounts.n; i++) {
		const char *t = mounts.v[i].target;
		if (strncmp(t, real, len) == 0 && (t[len] == '\0' || t[len] == '/'))
			targets[n++] = (struct target){t, i};
	}
	qsort(targets, n, sizeof(*targets), deepest_first);
	int ret = 0;
	for (size_t i = 0; i < n; i++) {
		r = unmount_one(targets[i].path, log, err);
		if (r < 0 && ret == 0)
			ret = r;
	}
	return ret;
}
