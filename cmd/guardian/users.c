#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/openat2.h>
#include <bsd/string.h>

#include "lib/fs.h"
#include "lib/util.h"
#include "cmd/guardian/users.h"

#define MAX_FILE (4 * 1024 * 1024)

/* Splits a colon-separated line into at most n fields (in place). Returns the count. */
static size_t split(char *line, char **f, size_t n)
{
	size_t i = 0;

	f[i++] = line;
	for (char *p = line; *p && i < n; p++) {
		if (*p == ':') {
			*p = '\0';
			f[i++] = p + 1;
		}
	}
	return i;
}

/* Finds the passwd entry whose name (by_name) or uid matches. */
static bool find_passwd(const char *passwd, const char *name, uint32_t uid, bool by_name,
			struct gd_user *u)
{
	_cleanup_free_ char *copy = passwd ? strdup(passwd) : NULL;
	char *save = NULL;

	if (!copy)
		return false;
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *f[7];
		uint32_t fuid, fgid;

		if (split(line, f, 7) < 7 || gdn_parse_u32(f[2], &fuid) < 0 ||
		    gdn_parse_u32(f[3], &fgid) < 0)
			continue;
		if (by_name ? strcmp(f[0], name) != 0 : fuid != uid)
			continue;
		u->uid = fuid;
		u->gid = fgid;
		strlcpy(u->name, f[0], sizeof(u->name));
		strlcpy(u->home, *f[5] ? f[5] : "/", sizeof(u->home));
		return true;
	}
	return false;
}

static void find_groups(const char *group, struct gd_user *u)
{
	_cleanup_free_ char *copy = group ? strdup(group) : NULL;
	char *save = NULL;

	if (!copy || !*u->name)
		return;
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *f[4], *msave = NULL;
		uint32_t gid;

		if (split(line, f, 4) < 4 || gdn_parse_u32(f[2], &gid) < 0)
			continue;
		for (char *m = strtok_r(f[3], ",", &msave); m; m = strtok_r(NULL, ",", &msave))
			if (strcmp(m, u->name) == 0 && gid != u->gid && u->n_groups < GD_MAX_GROUPS)
				u->groups[u->n_groups++] = gid;
	}
}

int gd_user_lookup(const char *passwd, const char *group, const char *user, struct gd_user *ret,
		   struct gdn_err **err)
{
	struct gd_user u = {0};
	char name[256];
	const char *colon;
	uint32_t uid, gid;

	if (!user || !*user)
		user = "root";
	strlcpy(name, user, sizeof(name));
	colon = strchr(user, ':');
	if (colon)
		name[colon - user] = '\0';
	if (gdn_parse_u32(name, &uid) == 0) {
		/* Numeric: the passwd entry only lends a home and a name, if there is one. */
		if (!find_passwd(passwd, NULL, uid, false, &u)) {
			u.uid = uid;
			u.gid = uid;
			strlcpy(u.home, "/", sizeof(u.home));
		}
	} else if (!find_passwd(passwd, name, 0, true, &u)) {
		if (strcmp(name, "root") != 0 || (passwd && strstr(passwd, "root:")))
			return gdn_err_kind(err, GDN_ERR_GENERIC, ENOENT,
					    "unable to find user %s: no matching entries in passwd "
					    "file",
					    name);
		/* A rootfs without /etc/passwd still runs as root. */
		u.uid = 0;
		u.gid = 0;
		strlcpy(u.name, "root", sizeof(u.name));
		strlcpy(u.home, "/", sizeof(u.home));
	}
	if (colon) {
		if (gdn_parse_u32(colon + 1, &gid) < 0)
			return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
					    "invalid user '%s': the group must be numeric", user);
		u.gid = gid;
	}
	find_groups(group, &u);
	*ret = u;
	return 0;
}

static int open_root(pid_t init, struct gdn_err **err)
{
	char path[64];
	int fd;

	(void)snprintf(path, sizeof(path), "/proc/%d/root", (int)init);
	fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return gdn_err_set(err, errno, "open the container's root ('%s')", path);
	return fd;
}

static int openat_in_root(int root, const char *path, int flags)
{
	struct open_how how = {
	    .flags = (uint64_t)(flags | O_CLOEXEC),
	    .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	int fd = (int)syscall(SYS_openat2, root, path, &how, sizeof(how));
	return fd < 0 ? -errno : fd;
}

static int read_in_root(int root, const char *path, char **ret, struct gdn_err **err)
{
	_cleanup_close_ int fd = -1;
	char link[64];
	size_t len;
	struct stat st;

	/* guardian's loop reads this: a FIFO planted by the container must not block it */
	fd = openat_in_root(root, path, O_RDONLY | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return gdn_err_set(err, -fd, "open '%s' in the container", path);
	if (fstat(fd, &st) < 0)
		return gdn_err_set(err, errno, "stat '%s' in the container", path);
	if (!S_ISREG(st.st_mode))
		return gdn_err_set(err, EINVAL, "'%s' in the container is not a regular file",
				   path);
	(void)snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	return gdn_fs_read_file(link, MAX_FILE, ret, &len, err);
}

int gd_container_read_file(pid_t init, const char *path, char **ret, struct gdn_err **err)
{
	_cleanup_close_ int root = open_root(init, err);

	if (root < 0)
		return root;
	return read_in_root(root, path, ret, err);
}

int gd_rootfs_read_file(const char *rootfs, const char *path, char **ret, struct gdn_err **err)
{
	_cleanup_close_ int root = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (root < 0)
		return gdn_err_set(err, errno, "open the rootfs '%s'", rootfs);
	return read_in_root(root, path, ret, err);
}

/* Walks `path` from the container's root one component at a time, as the kernel would inside
 * the container: a symlink met on the way is read and followed from the root (absolute) or from
 * where it is (relative), ".." stops at the root, so nothing outside the root is ever reached;
 * missing directories are made (0755, owned by uid/gid). With make_dangling, unlike openat2
 * RESOLVE_IN_ROOT alone, it also makes what a dangling symlink points to, as runc does for
 * mount points; without, such a symlink is an error (ENOENT). The
 * resolved path (relative to the root, "" for the root itself) is left in ret (PATH_MAX). */
static int mkdir_p_in_root(int root, const char *path, bool make_dangling, uid_t uid, gid_t gid,
			   char *ret, struct gdn_err **err)
{
	char todo[PATH_MAX], next[PATH_MAX];
	unsigned links = 0;

	ret[0] = '\0';
	if (strlcpy(todo, path, sizeof(todo)) >= sizeof(todo))
		return gdn_err_set(err, ENAMETOOLONG, "dir '%s'", path);
	/* the caller's path climbs nowhere; a symlink's target may (it stops at the root) */
	for (const char *p = strstr(path, ".."); p; p = strstr(p + 2, ".."))
		if ((p == path || p[-1] == '/') && (p[2] == '\0' || p[2] == '/'))
			return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
					    "dir '%s' must not contain '..'", path);
	for (;;) {
		char *c = todo + strspn(todo, "/"), *rest, name[NAME_MAX + 1], target[PATH_MAX];
		size_t clen = strcspn(c, "/");
		_cleanup_close_ int parent = -1;
		struct stat st;
		ssize_t n;

		if (clen == 0)
			return 0;
		if (clen > NAME_MAX)
			return gdn_err_set(err, ENAMETOOLONG, "dir '%s'", path);
		memcpy(name, c, clen);
		name[clen] = '\0';
		rest = c + clen;
		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
			char *up = strrchr(ret, '/');
			if (name[1] == '.')
				*(up ? up : ret) = '\0';
			memmove(todo, rest, strlen(rest) + 1);
			continue;
		}
		/* what is resolved so far holds no symlink: opened refusing any */
		struct open_how how = {
		    .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
		    .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
		};
		parent = (int)syscall(SYS_openat2, root, *ret ? ret : ".", &how, sizeof(how));
		if (parent < 0)
			return gdn_err_set(err, errno, "open '/%s' in the container", ret);
		if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno != ENOENT)
				return gdn_err_set(err, errno, "stat '/%s/%s' in the container",
						   ret, name);
			if (mkdirat(parent, name, 0755) < 0 && errno != EEXIST)
				return gdn_err_set(err, errno, "mkdir '%s' in '/%s'", name, ret);
			if (fchownat(parent, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
				return gdn_err_set(err, errno, "chown '%s' in '/%s'", name, ret);
			st.st_mode = S_IFDIR;
		}
		if (S_ISLNK(st.st_mode)) {
			if (++links > 40)
				return gdn_err_set(err, ELOOP, "dir '%s'", path);
			/* a process's working directory is not made where a dangling symlink
			 * points (Garden's MkdirAll fails there too); a mount point is, as runc
			 * does */
			if (!make_dangling) {
				struct open_how follow = {
				    .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
				    .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
				};
				_cleanup_close_ int t = (int)syscall(SYS_openat2, parent, name,
								     &follow, sizeof(follow));
				if (t < 0)
					return gdn_err_set(err, errno,
							   "open '/%s%s%s' in the container", ret,
							   *ret ? "/" : "", name);
			}
			n = readlinkat(parent, name, target, sizeof(target) - 1);
			if (n < 0)
				return gdn_err_set(err, errno, "readlink '/%s/%s'", ret, name);
			target[n] = '\0';
			if ((size_t)snprintf(next, sizeof(next), "%s/%s", target, rest) >=
			    sizeof(next))
				return gdn_err_set(err, ENAMETOOLONG, "dir '%s'", path);
			memcpy(todo, next, sizeof(todo));
			if (target[0] == '/')
				ret[0] = '\0';
			continue;
		}
		if (!S_ISDIR(st.st_mode))
			return gdn_err_set(err, ENOTDIR, "'/%s/%s' in the container", ret, name);
		if ((*ret && strlcat(ret, "/", PATH_MAX) >= PATH_MAX) ||
		    strlcat(ret, name, PATH_MAX) >= PATH_MAX)
			return gdn_err_set(err, ENAMETOOLONG, "dir '%s'", path);
		memmove(todo, rest, strlen(rest) + 1);
	}
}

int gd_container_mkdir_p(pid_t init, const char *path, uid_t uid, gid_t gid, struct gdn_err **err)
{
	_cleanup_close_ int root = open_root(init, err);

	char resolved[PATH_MAX];

	if (root < 0)
		return root;
	return mkdir_p_in_root(root, path, false, uid, gid, resolved, err);
}

int gd_rootfs_mountpoint(const char *rootfs, const char *path, bool dir, uid_t uid, gid_t gid,
			 struct gdn_err **err)
{
	_cleanup_close_ int root = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	_cleanup_free_ char *parent = NULL;
	_cleanup_close_ int pfd = -1, fd = -1;
	const char *slash = strrchr(path, '/');
	char resolved[PATH_MAX];
	struct open_how how = {
	    .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
	    .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	int r;

	if (root < 0)
		return gdn_err_set(err, errno, "open the rootfs '%s'", rootfs);
	if (dir || !slash)
		return mkdir_p_in_root(root, path, true, uid, gid, resolved, err);
	parent = strndup(path, (size_t)(slash - path));
	if (!parent)
		return gdn_err_set(err, ENOMEM, "mount point '%s'", path);
	if ((r = mkdir_p_in_root(root, parent, true, uid, gid, resolved, err)) < 0)
		return r;
	pfd = (int)syscall(SYS_openat2, root, *resolved ? resolved : ".", &how, sizeof(how));
	if (pfd < 0)
		return gdn_err_set(err, errno, "open '/%s' in the container", resolved);
	/* an empty file for a file's bind mount; whatever is there already (a symlink too: the
	 * runtime resolves it, confined) is left as it is */
	fd = openat(pfd, slash + 1, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0 && errno != EEXIST)
		return gdn_err_set(err, errno, "create '%s' in the container", path);
	if (fd >= 0 && fchown(fd, uid, gid) < 0)
		return gdn_err_set(err, errno, "chown '%s' in the container", path);
	return 0;
}
