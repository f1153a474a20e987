#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>

#include "lib/fs.h"
#include "cmd/guardian/cgroup_setup.h"

#define CGROUP_ROOT "/sys/fs/cgroup"
#define UNIFIED CGROUP_ROOT "/unified"

static bool is_fs(const char *path, long magic)
{
	struct statfs sf;
	return statfs(path, &sf) == 0 && sf.f_type == magic;
}

static void mount_v1(const char *name, struct gdn_log *log)
{
	_cleanup_err_ struct gdn_err *e = NULL;
	char path[256];

	(void)snprintf(path, sizeof(path), CGROUP_ROOT "/%s", name);
	if (is_fs(path, CGROUP_SUPER_MAGIC))
		return;
	if (mkdir(path, 0755) < 0 && errno != EEXIST) {
		gdn_err_set(&e, errno, "mkdir '%s'", path);
	} else if (mount("cgroup", path, "cgroup", MS_NOSUID | MS_NODEV | MS_NOEXEC, name) < 0) {
		gdn_err_set(&e, errno, "mount cgroup v1 '%s' at '%s'", name, path);
		(void)rmdir(path);
	}
	if (e)
		gdn_log_error(log, "cgroup-setup.mount-failed", e, "controller", name, NULL);
	else
		gdn_log_info(log, "cgroup-setup.mounted", "controller", name, "path", path, NULL);
}

void gd_cgroup_setup(struct gdn_log *log)
{
	_cleanup_free_ char *controllers = NULL;
	size_t len;
	char *save = NULL;

	if (!is_fs(CGROUP_ROOT, TMPFS_MAGIC) || !is_fs(UNIFIED, CGROUP2_SUPER_MAGIC))
		return;
	if (gdn_fs_read_file(UNIFIED "/cgroup.controllers", 4096, &controllers, &len, NULL) < 0)
		return;
	for (char *c = strtok_r(controllers, " \n", &save); c; c = strtok_r(NULL, " \n", &save))
		mount_v1(c, log);
}
