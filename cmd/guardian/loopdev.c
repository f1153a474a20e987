#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/loop.h>
#include <bsd/string.h>

#include "lib/fs.h"
#include "lib/util.h"
#include "cmd/guardian/loopdev.h"

#define ATTACH_TRIES 16

static int configure(int loop_fd, int file_fd, const char *file)
{
	struct loop_config c;

	memset(&c, 0, sizeof(c));
	c.fd = (unsigned)file_fd;
	/* direct I/O: the store's pages are cached once, by the store's file system, not also as
	 * the backing file's; the kernel leaves it off where the backing file cannot do it */
	c.info.lo_flags = LO_FLAGS_AUTOCLEAR | LO_FLAGS_DIRECT_IO;
	(void)strlcpy((char *)c.info.lo_file_name, file, sizeof(c.info.lo_file_name));
	if (ioctl(loop_fd, LOOP_CONFIGURE, &c) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOTTY)
		return -errno;
	/* before Linux 5.8 */
	if (ioctl(loop_fd, LOOP_SET_FD, file_fd) < 0)
		return -errno;
	if (ioctl(loop_fd, LOOP_SET_STATUS64, &c.info) < 0) {
		int e = errno;
		(void)ioctl(loop_fd, LOOP_CLR_FD, 0);
		return -e;
	}
	return 0;
}

int gd_loop_attach(const char *file, char *ret_dev, size_t size, struct gdn_err **err)
{
	_cleanup_close_ int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	_cleanup_close_ int file_fd = open(file, O_RDWR | O_CLOEXEC);

	if (ctl < 0)
		return gdn_err_set(err, errno, "open '/dev/loop-control'");
	if (file_fd < 0)
		return gdn_err_set(err, errno, "open '%s'", file);
	for (int i = 0; i < ATTACH_TRIES; i++) {
		int n = ioctl(ctl, LOOP_CTL_GET_FREE);
		if (n < 0)
			return gdn_err_set(err, errno, "LOOP_CTL_GET_FREE");
		(void)snprintf(ret_dev, size, "/dev/loop%d", n);
		_cleanup_close_ int loop_fd = open(ret_dev, O_RDWR | O_CLOEXEC);
		if (loop_fd < 0)
			return gdn_err_set(err, errno, "open '%s'", ret_dev);
		int r = configure(loop_fd, file_fd, file);
		if (r == 0)
			return gdn_steal_fd(&loop_fd);
		if (r != -EBUSY) /* EBUSY: another one took it first */
			return gdn_err_set(err, -r, "bind '%s' to '%s'", file, ret_dev);
	}
	return gdn_err_set(err, EBUSY, "bind '%s': no free loop device after %d tries", file,
			   ATTACH_TRIES);
}

int gd_loop_find(const char *file, char *ret_dev, size_t size, struct gdn_err **err)
{
	_cleanup_closedir_ DIR *d = opendir("/sys/block");
	struct dirent *ent;
	struct stat want;

	if (stat(file, &want) < 0)
		return gdn_err_set(err, errno, "stat '%s'", file);
	if (!d)
		return gdn_err_set(err, errno, "open '/sys/block'");
	while ((ent = readdir(d))) {
		char path[PATH_MAX];
		_cleanup_free_ char *backing = NULL;
		size_t len = 0;
		struct stat st;
		if (strncmp(ent->d_name, "loop", 4) != 0)
			continue;
		(void)snprintf(path, sizeof(path), "/sys/block/%s/loop/backing_file", ent->d_name);
		if (gdn_fs_read_file(path, PATH_MAX, &backing, &len, NULL) < 0)
			continue; /* unbound */
		while (len > 0 && backing[len - 1] == '\n')
			backing[--len] = '\0';
		if (stat(backing, &st) == 0 && st.st_dev == want.st_dev &&
		    st.st_ino == want.st_ino) {
			(void)snprintf(ret_dev, size, "/dev/%s", ent->d_name);
			return 0;
		}
	}
	return -ENOENT;
}

int gd_loop_detach(const char *dev, struct gdn_err **err)
{
	_cleanup_close_ int fd = open(dev, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return errno == ENOENT ? 0 : gdn_err_set(err, errno, "open '%s'", dev);
	for (int i = 0; i < 50; i++) {
		if (ioctl(fd, LOOP_CLR_FD, 0) == 0 || errno == ENXIO)
			return 0;
		if (errno != EBUSY)
			break;
		/* a mount that was just undone may hold it a moment longer */
		struct timespec ts = {0, 20 * 1000 * 1000L};
		(void)nanosleep(&ts, NULL);
	}
	return gdn_err_set(err, errno, "LOOP_CLR_FD '%s'", dev);
}
