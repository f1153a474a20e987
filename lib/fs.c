/* Files and directories: see fs.h. */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include "lib/fs.h"
#include "lib/path.h"

ssize_t gdn_fd_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	size_t done = 0;

	while (done < len) {
		ssize_t n = write(fd, p + done, len - done);

		if (n < 0) {
			struct pollfd pfd = {.fd = fd, .events = POLLOUT};
			if (errno == EINTR)
				continue;
			/* a non-blocking fd (e.g. a duplicate of an event loop's socket, whose
			 * flags it shares): wait until it takes more */
			if (errno == EAGAIN && (poll(&pfd, 1, -1) >= 0 || errno == EINTR))
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

ssize_t gdn_fd_read_all(int fd, void *data, size_t len)
{
	char *p = data;
	size_t done = 0;

	while (done < len) {
		ssize_t n = read(fd, p + done, len - done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

int gdn_fd_set_cloexec(int fd)
{
	int flags = fcntl(fd, F_GETFD);

	if (flags < 0)
		return -errno;
	if (flags & FD_CLOEXEC)
		return 0;
	if (fcntl(fd, F_SETFD, flags | FD_CLOEXEC) < 0)
		return -errno;
	return 0;
}

int gdn_fd_set_nonblock(int fd, bool on)
{
	int flags = fcntl(fd, F_GETFL);
	int nflags;

	if (flags < 0)
		return -errno;
	nflags = on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK;
	if (nflags != flags && fcntl(fd, F_SETFL, nflags) < 0)
		return -errno;
	return 0;
}

int gdn_fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
			struct gdn_err **err)
{
	static unsigned counter;
	_cleanup_free_ char *tmp = NULL;
	_cleanup_close_ int fd = -1;
	ssize_t n;
	int r;

	if (asprintf(&tmp, "%s.tmp.%ld.%u", path, (long)getpid(), ++counter) < 0) {
		tmp = NULL;
		return gdn_err_set(err, ENOMEM, "write '%s'", path);
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode & 07777);
	if (fd < 0)
		return gdn_err_set(err, errno, "create '%s'", tmp);
	n = gdn_fd_write_all(fd, data, len);
	if (n < 0) {
		r = gdn_err_set(err, (int)-n, "write '%s'", tmp);
		(void)unlink(tmp);
		return r;
	}
	if (fchmod(fd, mode & 07777) < 0) {
		r = gdn_err_set(err, errno, "chmod '%s'", tmp);
		(void)unlink(tmp);
		return r;
	}
	if (close(gdn_steal_fd(&fd)) < 0 && errno != EINTR) {
		r = gdn_err_set(err, errno, "close '%s'", tmp);
		(void)unlink(tmp);
		return r;
	}
	if (rename(tmp, path) < 0) {
		r = gdn_err_set(err, errno, "rename '%s' to '%s'", tmp, path);
		(void)unlink(tmp);
		return r;
	}
	return 0;
}

int gdn_fs_write_file(const char *path, const void *data, size_t len, struct gdn_err **err)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW);
	ssize_t n;

	if (fd < 0)
		return gdn_err_set(err, errno, "open '%s'", path);
	do
		n = write(fd, data, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return gdn_err_set(err, errno, "write '%s'", path);
	if ((size_t)n != len)
		return gdn_err_set(err, EIO, "write '%s': %zd of %zu bytes", path, n, len);
	return 0;
}

int gdn_fs_read_file(const char *path, size_t max, char **ret_data, size_t *ret_len,
		     struct gdn_err **err)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *data = NULL;
	size_t len = 0, cap = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return gdn_err_set(err, errno, "open '%s'", path);
	for (;;) {
		ssize_t n;

		if (len == cap) {
			/* one byte more than max so that an over-long file is noticed */
			size_t ncap = cap ? cap * 2 : 4096;
			char *p;

			if (max < SIZE_MAX - 1 && ncap > max + 1)
				ncap = max + 1;
			if (ncap <= cap)
				return gdn_err_set(err, EFBIG, "read '%s' (max %zu bytes)", path,
						   max);
			p = realloc(data, ncap + 1);
			if (!p)
				return gdn_err_set(err, ENOMEM, "read '%s'", path);
			data = p;
			cap = ncap;
		}
		n = read(fd, data + len, cap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return gdn_err_set(err, errno, "read '%s'", path);
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max)
			return gdn_err_set(err, EFBIG, "read '%s' (max %zu bytes)", path, max);
	}
	if (!data) {
		data = malloc(1);
		if (!data)
			return gdn_err_set(err, ENOMEM, "read '%s'", path);
	}
	data[len] = '\0';
	*ret_data = gdn_steal_ptr(&data);
	if (ret_len)
		*ret_len = len;
	return 0;
}

int gdn_fs_mkdir_p(const char *path, mode_t mode, struct gdn_err **err)
{
	_cleanup_free_ char *p = NULL;
	size_t len;

	if (!path || !*path)
		return gdn_err_set(err, EINVAL, "mkdir ''");
	p = strdup(path);
	if (!p)
		return gdn_err_set(err, ENOMEM, "mkdir '%s'", path);
	len = strlen(p);
	for (size_t i = 1; i <= len; i++) {
		struct stat st;

		if (p[i] != '/' && p[i] != '\0')
			continue;
		if (p[i - 1] == '/')
			continue; /* repeated slashes */
		p[i] = '\0';
		if (mkdir(p, mode) == 0) {
			/* The umask must not decide: guardian refuses a depot or store that
			 * unprivileged containers cannot search, so a umask of 077 would make it
			 * refuse the directories it has just created itself. */
			if (chmod(p, mode) < 0)
				return gdn_err_set(err, errno, "chmod '%s'", p);
		} else {
			int e = errno;

			if (e != EEXIST)
				return gdn_err_set(err, e, "mkdir '%s'", p);
			if (stat(p, &st) < 0)
				return gdn_err_set(err, errno, "stat '%s'", p);
			if (!S_ISDIR(st.st_mode))
				return gdn_err_set(err, ENOTDIR, "mkdir '%s'", p);
		}
		if (i < len)
			p[i] = '/';
	}
	return 0;
}

/* Identity of the mount an open directory lives on. */
struct mnt_id {
	uint64_t mnt_id; /* 0 if the kernel did not report it */
	dev_t dev;
	bool mount_root; /* STATX_ATTR_MOUNT_ROOT */
};

static int fd_mnt_id(int fd, struct mnt_id *ret)
{
	struct statx stx;

	memset(ret, 0, sizeof(*ret));
	if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_TYPE | STATX_MNT_ID, &stx) <
	    0) {
		struct stat st;

		if (errno != ENOSYS && errno != EINVAL)
			return -errno;
		if (fstat(fd, &st) < 0)
			return -errno;
		ret->dev = st.st_dev;
		return 0;
	}
	ret->dev = makedev(stx.stx_dev_major, stx.stx_dev_minor);
	if (stx.stx_mask & STATX_MNT_ID)
		ret->mnt_id = stx.stx_mnt_id;
	if (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT)
		ret->mount_root = (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
	return 0;
}

/* true if `child` (an open directory) is on another mount than `parent`. */
static bool crosses_mount(const struct mnt_id *parent, const struct mnt_id *child)
{
	if (child->mount_root)
		return true;
	if (child->dev != parent->dev)
		return true;
	return parent->mnt_id && child->mnt_id && parent->mnt_id != child->mnt_id;
}

static int rm_contents(int dfd, const char *path, const struct mnt_id *mnt, struct gdn_err **err);

/* Removes the entry `name` of directory dfd (whose path is `dir`). */
static int rm_entry(int dfd, const char *dir, const char *name, unsigned char type,
		    const struct mnt_id *mnt, struct gdn_err **err)
{
	_cleanup_free_ char *path = NULL;
	_cleanup_close_ int fd = -1;
	struct mnt_id child;
	int r;

	if (type != DT_DIR && type != DT_UNKNOWN) {
		if (unlinkat(dfd, name, 0) == 0 || errno == ENOENT)
			return 0;
		if (errno != EISDIR) {
			path = gdn_path_join(dir, name);
			return gdn_err_set(err, errno, "unlink '%s'", path ? path : name);
		}
	}
	path = gdn_path_join(dir, name);
	if (!path)
		return gdn_err_set(err, ENOMEM, "remove '%s'", name);
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		if (errno != ENOTDIR && errno != ELOOP)
			return gdn_err_set(err, errno, "open '%s'", path);
		/* not a directory, or a symlink: remove the entry itself, never its target */
		if (unlinkat(dfd, name, 0) == 0 || errno == ENOENT)
			return 0;
		return gdn_err_set(err, errno, "unlink '%s'", path);
	}
	r = fd_mnt_id(fd, &child);
	if (r < 0)
		return gdn_err_set(err, -r, "stat '%s'", path);
	if (crosses_mount(mnt, &child))
		return gdn_err_set(err, EBUSY, "remove '%s': is a mount point", path);
	r = rm_contents(gdn_steal_fd(&fd), path, &child, err);
	if (r < 0)
		return r;
	if (unlinkat(dfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return gdn_err_set(err, errno, "rmdir '%s'", path);
	return 0;
}

/* Removes everything inside directory fd (consumed). Continues past failures so that as much
 * as possible goes; returns the first error. */
static int rm_contents(int fd, const char *path, const struct mnt_id *mnt, struct gdn_err **err)
{
	_cleanup_closedir_ DIR *d = NULL;
	int ret = 0;

	d = fdopendir(fd);
	if (!d) {
		int e = errno;

		(void)close(fd);
		return gdn_err_set(err, e, "opendir '%s'", path);
	}
	for (;;) {
		struct dirent *de;
		int r;

		errno = 0;
		de = readdir(d);
		if (!de) {
			if (errno != 0 && ret == 0)
				ret = gdn_err_set(err, errno, "readdir '%s'", path);
			break;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		r = rm_entry(dirfd(d), path, de->d_name, de->d_type, mnt, err);
		if (r < 0 && ret == 0)
			ret = r;
	}
	return ret;
}

int gdn_fs_rm_rf(const char *path, struct gdn_err **err)
{
	_cleanup_close_ int fd = -1, pfd = -1;
	struct mnt_id self, parent;
	struct stat st;
	int r;

	if (!path || !*path)
		return gdn_err_set(err, EINVAL, "remove ''");
	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		return gdn_err_set(err, errno, "stat '%s'", path);
	}
	if (!S_ISDIR(st.st_mode)) {
		if (unlink(path) < 0 && errno != ENOENT)
			return gdn_err_set(err, errno, "unlink '%s'", path);
		return 0;
	}
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		return gdn_err_set(err, errno, "open '%s'", path);
	}
	/* ".." of a mount root is the directory it is mounted on, so this is the real parent */
	pfd = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOCTTY);
	if (pfd < 0)
		return gdn_err_set(err, errno, "open '%s/..'", path);
	r = fd_mnt_id(pfd, &parent);
	if (r < 0)
		return gdn_err_set(err, -r, "stat '%s/..'", path);
	r = fd_mnt_id(fd, &self);
	if (r < 0)
		return gdn_err_set(err, -r, "stat '%s'", path);
	if (crosses_mount(&parent, &self))
		return gdn_err_set(err, EBUSY, "remove '%s': is a mount point", path);
	r = rm_contents(gdn_steal_fd(&fd), path, &self, err);
	if (r < 0)
		return r;
	if (rmdir(path) < 0 && errno != ENOENT)
		return gdn_err_set(err, errno, "rmdir '%s'", path);
	return 0;
}

/* Undoes mountinfo's octal escapes (\040 for space etc.) in place. */
static void unescape_mountinfo(char *s)
{
	char *o = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)(((s[1] - '0') << 6) | ((s[2] - '0') << 3) | (s[3] - '0'));
			s += 4;
		} else {
			*o++ = *s++;
		}
	}
	*o = '\0';
}

bool gdn_fs_is_mountpoint(const char *path)
{
	_cleanup_fclose_ FILE *f = NULL;
	_cleanup_free_ char *real = NULL, *line = NULL;
	size_t cap = 0;

	real = realpath(path, NULL);
	if (!real)
		return false;
	f = fopen("/proc/self/mountinfo", "re");
	if (!f) {
		/* no /proc: fall back to the kernel's own notion of a mount root */
		struct statx stx;

		if (statx(AT_FDCWD, real, AT_SYMLINK_NOFOLLOW, STATX_TYPE, &stx) < 0)
			return false;
		return (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
		       (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
	}
	while (getline(&line, &cap, f) > 0) {
		/* id parent major:minor root mountpoint ... */
		char *save = NULL, *tok = strtok_r(line, " ", &save);

		for (int i = 0; tok && i < 4; i++)
			tok = strtok_r(NULL, " ", &save);
		if (!tok)
			continue;
		unescape_mountinfo(tok);
		if (strcmp(tok, real) == 0)
			return true;
	}
	return false;
}
