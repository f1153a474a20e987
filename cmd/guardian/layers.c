/* The layer store (layers.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include "lib/depot.h"
#include "lib/fs.h"
#include "lib/path.h"
#include "lib/proc.h"
#include "lib/run.h"
#include "cmd/guardian/layers.h"
#include "cmd/guardian/volume_store.h"
#include "cmd/guardian/volumizer.h"

#define UNPACK_TIMEOUT_NS (30ULL * 60 * 1000000000) /* a multi-GiB layer on a slow disk */

void gd_layers_free(char **dirs)
{
	for (char **d = dirs; d && *d; d++)
		free(*d);
	free(dirs);
}

static int lock_file(const char *path, int how, struct gdn_err **err)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return gdn_err_set(err, errno, "open '%s'", path);
	while (flock(fd, how) < 0) {
		if (errno != EINTR) {
			int e = errno;
			(void)close(fd);
			return gdn_err_set(err, e, "flock '%s'", path);
		}
	}
	return fd;
}

static char *layers_dir(const struct gd_config *cfg)
{
	return cfg->store ? gdn_path_join(cfg->store, "layers") : NULL;
}

/* <hex> or <hex>-<mapping> */
static int layer_name(const struct gd_config *cfg, const char *diff_id, bool privileged, char *buf,
		      size_t size)
{
	int n = privileged ? snprintf(buf, size, "%s", diff_id + 7)
			   : snprintf(buf, size, "%s-u%u.%ug%u.%um%u", diff_id + 7,
				      cfg->uid_map_start, cfg->uid_map_length, cfg->gid_map_start,
				      cfg->gid_map_length, cfg->maxid);
	return n > 0 && (size_t)n < size ? 0 : -ENAMETOOLONG;
}

static bool is_dir(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Runs the unpacker into `tmp` and checks the digest it read against the diff_id. */
static int unpack(const struct gd_config *cfg, const struct gd_layout *img,
		  const struct gd_layout_layer *l, bool privileged, const char *tmp,
		  struct gdn_log *log, struct gdn_err **err)
{
	const char *src = img->archive ? img->archive : l->blob;
	_cleanup_close_ int fd = open(src, O_RDONLY | O_CLOEXEC);
	_cleanup_run_result_ struct gdn_run_result res = {0};
	char shift[96], argv0[] = "guardian", sub[] = "unpack-layer", member[] = "--member",
			shift_flag[] = "--shift";
	char *argv[8];
	int n = 0;

	if (fd < 0)
		return gdn_err_set(err, errno, "open the layer '%s'", src);
	argv[n++] = argv0;
	argv[n++] = sub;
	if (l->member) {
		argv[n++] = member;
		argv[n++] = l->member;
	}
	if (!privileged) {
		(void)snprintf(shift, sizeof(shift), "%u:%u:%u:%u:%u", cfg->maxid,
			       cfg->uid_map_start, cfg->uid_map_length, cfg->gid_map_start,
			       cfg->gid_map_length);
		argv[n++] = shift_flag;
		argv[n++] = shift;
	}
	argv[n] = NULL;
	struct gdn_spawn_opts so = {
	    .path = "/proc/self/exe",
	    .argv = argv,
	    .stdin_fd = fd,
	    .stdout_fd = -1,
	    .stderr_fd = -1,
	    .setsid = true,
	    .cwd = tmp,
	};
	struct gdn_run_opts ro = {
	    .spawn = &so,
	    .capture_stdout = true,
	    .capture_stderr = true,
	    .timeout_ns = UNPACK_TIMEOUT_NS,
	};
	int r = gdn_run(&ro, &res, err);
	if (r < 0)
		return gdn_err_wrap(err, "unpack the layer %s", l->diff_id);
	if (res.status != 0) {
		size_t len = res.err_len;
		while (len > 0 && res.err[len - 1] == '\n')
			len--;
		return gdn_err_set(err, EINVAL, "unpack the layer %s of '%s': %.*s", l->diff_id,
				   src, (int)len, res.err ? res.err : "");
	}
	if (!res.out || strncmp(res.out, l->diff_id, 71) != 0 || res.out[71] != '\n')
		return gdn_err_set(err, EINVAL,
				   "the layer of '%s' does not match its diff_id %s (read %.71s)",
				   src, l->diff_id, res.out ? res.out : "nothing");
	gdn_log_info(log, "unpacked-layer", "diff_id", l->diff_id, "path", tmp, NULL);
	return 0;
}

static int ensure_one(const struct gd_config *cfg, const struct gd_layout *img,
		      const struct gd_layout_layer *l, bool privileged, const char *root,
		      char **ret_dir, struct gdn_log *log, struct gdn_err **err)
{
	char name[256];
	_cleanup_free_ char *dir = NULL, *lock_path = NULL, *tmp = NULL;
	_cleanup_close_ int lock_fd = -1;

	if (layer_name(cfg, l->diff_id, privileged, name, sizeof(name)) < 0)
		return gdn_err_set(err, ENAMETOOLONG, "layer %s", l->diff_id);
	dir = gdn_path_join(root, name);
	if (!dir || asprintf(&lock_path, "%s.lock", dir) < 0 ||
	    asprintf(&tmp, "%s/tmp.%s.XXXXXX", root, name) < 0)
		return gdn_err_set(err, ENOMEM, "layer %s", l->diff_id);
	if (!is_dir(dir)) {
		lock_fd = lock_file(lock_path, LOCK_EX, err);
		if (lock_fd < 0)
			return lock_fd;
	}
	if (!is_dir(dir)) {
		if (!mkdtemp(tmp))
			return gdn_err_set(err, errno, "mkdtemp '%s'", tmp);
		int r = chmod(tmp, 0755) < 0 ? gdn_err_set(err, errno, "chmod '%s'", tmp) : 0;
		if (r >= 0)
			r = unpack(cfg, img, l, privileged, tmp, log, err);
		if (r >= 0 && rename(tmp, dir) < 0)
			r = gdn_err_set(err, errno, "rename '%s'", tmp);
		if (r < 0) {
			_cleanup_err_ struct gdn_err *rm = NULL;
			if (gdn_fs_rm_rf(tmp, &rm) < 0)
				gdn_log_error(log, "remove-failed-unpack-failed", rm, NULL);
			return r;
		}
	}
	*ret_dir = gdn_steal_ptr(&dir);
	return 0;
}

int gd_layers_ensure(const struct gd_config *cfg, const struct gd_layout *img, bool privileged,
		     char ***ret_dirs, int *ret_lock_fd, struct gdn_log *log, struct gdn_err **err)
{
	_cleanup_free_ char *root = layers_dir(cfg);
	_cleanup_free_ char *store_lock = root ? gdn_path_join(root, ".lock") : NULL;
	_cleanup_close_ int lock_fd = -1;
	char **dirs;

	if (!cfg->store)
		return gdn_err_set(err, EINVAL, "no volumizer store configured");
	if (!store_lock)
		return gdn_err_set(err, ENOMEM, "prepare the layers");
	int r = gdn_fs_mkdir_p(root, 0755, err);
	if (r < 0)
		return r;
	lock_fd = lock_file(store_lock, LOCK_SH, err);
	if (lock_fd < 0)
		return lock_fd;
	dirs = calloc(img->n_layers + 1, sizeof(*dirs));
	if (!dirs)
		return gdn_err_set(err, ENOMEM, "prepare the layers");
	for (size_t i = 0; i < img->n_layers; i++) {
		/* overlay lists the top layer first */
		r = ensure_one(cfg, img, &img->layers[i], privileged, root,
			       &dirs[img->n_layers - 1 - i], log, err);
		if (r < 0) {
			for (size_t j = 0; j < img->n_layers; j++)
				free(dirs[j]);
			free(dirs);
			return r;
		}
	}
	*ret_dirs = dirs;
	*ret_lock_fd = gdn_steal_fd(&lock_fd);
	return 0;
}

int gd_layers_collect(const struct gd_config *cfg, unsigned *ret_removed, struct gdn_log *log,
		      struct gdn_err **err)
{
	_cleanup_free_ char *root = layers_dir(cfg);
	_cleanup_free_ char *store_lock = root ? gdn_path_join(root, ".lock") : NULL;
	_cleanup_close_ int lock_fd = -1;
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *ent;
	unsigned removed = 0;

	*ret_removed = 0;
	if (!root)
		return cfg->store ? gdn_err_set(err, ENOMEM, "collect layers") : 0;
	d = opendir(root);
	if (!d)
		return errno == ENOENT ? 0 : gdn_err_set(err, errno, "opendir '%s'", root);
	lock_fd = lock_file(store_lock, LOCK_EX, err);
	if (lock_fd < 0)
		return lock_fd;
	while ((ent = readdir(d))) {
		const char *name = ent->d_name;
		if (name[0] == '.' || strstr(name, ".lock"))
			continue;
		_cleanup_free_ char *path = gdn_path_join(root, name);
		if (!path)
			return gdn_err_set(err, ENOMEM, "collect layers");
		/* with the store locked exclusively no unpack is under way: a tmp dir is stale */
		if (strncmp(name, "tmp.", 4) != 0 && gd_volume_lower_recorded(cfg->depot, path))
			continue;
		_cleanup_err_ struct gdn_err *rm = NULL;
		if (gdn_fs_rm_rf(path, &rm) < 0) {
			gdn_log_error(log, "remove-layer-failed", rm, "path", path, NULL);
			continue;
		}
		_cleanup_free_ char *lk = NULL;
		if (asprintf(&lk, "%s.lock", path) >= 0)
			(void)unlink(lk);
		if (strncmp(name, "tmp.", 4) != 0)
			removed++;
		gdn_log_info(log, "removed-layer", "path", path, NULL);
	}
	*ret_removed = removed;
	return 0;
}
