/* Files and directories: atomic writes, bounded reads, recursive create/remove. */
#pragma once

#include <stddef.h>
#include <stdbool.h>
#include <sys/types.h>
#include "lib/err.h"

/* Writes a temp file next to `path` (O_CLOEXEC|O_EXCL, `mode`) and rename()s it over `path`, so
 * a reader sees the old or the new content, never a mix, even if the writer is killed. */
int gdn_fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
			struct gdn_err **err);

/* Writes `data` to the existing file `path` in one write(2) (O_TRUNC, no create): how kernel
 * interface files (cgroupfs, procfs) take a value; a short write is -EIO. */
int gdn_fs_write_file(const char *path, const void *data, size_t len, struct gdn_err **err);

/* Reads a whole file (at most `max` bytes, else -EFBIG). The result is NUL-terminated.
 * A missing file is -ENOENT (with *err set). */
int gdn_fs_read_file(const char *path, size_t max, char **ret_data, size_t *ret_len,
		     struct gdn_err **err);

/* mkdir -p: the components it creates get exactly `mode` (whatever the umask); an existing
 * directory is fine and keeps its mode. */
int gdn_fs_mkdir_p(const char *path, mode_t mode, struct gdn_err **err);

/* rm -rf that never crosses into another mount: a directory on a different device (or a mount
 * point found on the way) makes it fail with -EBUSY and leaves that subtree alone.
 * A missing path is success. */
int gdn_fs_rm_rf(const char *path, struct gdn_err **err);

/* true when `path` is a mount point (per /proc/self/mountinfo). */
bool gdn_fs_is_mountpoint(const char *path);

/* Sets FD_CLOEXEC on an fd received from elsewhere (argv, env). */
int gdn_fd_set_cloexec(int fd);
int gdn_fd_set_nonblock(int fd, bool on);
/* Loop until all written / all read or EOF. Return bytes done or -errno. EINTR is retried; a
 * write to a non-blocking fd that would block waits (poll) until the fd takes more. */
ssize_t gdn_fd_write_all(int fd, const void *data, size_t len);
ssize_t gdn_fd_read_all(int fd, void *data, size_t len);
