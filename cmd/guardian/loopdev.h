/* Loop devices by ioctl (no losetup child): what `guardian setup` backs its store with. */
#pragma once

#include <stddef.h>
#include "lib/err.h"

/* Binds `file` to a free loop device (LOOP_CTL_GET_FREE, then LOOP_CONFIGURE, or LOOP_SET_FD and
 * LOOP_SET_STATUS64 on kernels before 5.8) with LO_FLAGS_AUTOCLEAR: the device lets go of the
 * file once its last user (the returned fd, then a mount of it) is gone, so an unmount or a
 * failed mount leaves no device behind. Returns the device's fd (CLOEXEC); its path goes to
 * ret_dev. */
int gd_loop_attach(const char *file, char *ret_dev, size_t size, struct gdn_err **err);

/* The loop device bound to `file` (compared by device and inode, through sysfs's
 * loop/backing_file), or -ENOENT. */
int gd_loop_find(const char *file, char *ret_dev, size_t size, struct gdn_err **err);

/* Unbinds the loop device `dev` (LOOP_CLR_FD); an unbound one is success. */
int gd_loop_detach(const char *dev, struct gdn_err **err);
