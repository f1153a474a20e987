#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>

#include "lib/fs.h"
#include "cmd/guardian/mountinfo.h"
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

static bool mounted_v1(const struct gd_mounts *m, const char *name)
{
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->v[i].fstype, "cgroup") == 0 && gd_opts_has(m->v[i].super_opts, name))
			return true;
	return false;
}

/* Controllers of a v1 hierarchy that is not mounted anywhere (hierarchy id != 0 in
 * /proc/cgroups): the runtimes cannot place containers in them. */
static void mount_orphaned(const struct gd_mounts *m, struct gdn_log *log)
{
	_cleanup_free_ char *text = NULL;
	char *save = NULL;
	size_t len;

	if (gdn_fs_read_file("/proc/cgroups", 65536, &text, &len, NULL) < 0)
		return;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[64];
		unsigned hierarchy, n, enabled;

		if (line[0] == '#' ||
		    sscanf(line, "%63s %u %u %u", name, &hierarchy, &n, &enabled) != 4)
			continue;
		if (hierarchy != 0 && enabled && !mounted_v1(m, name))
			mount_v1(name, log);
	}
}

void gd_cgroup_setup(struct gdn_log *log)
{
	_cleanup_free_ char *controllers = NULL;
	_cleanup_mounts_ struct gd_mounts m = {0};
	size_t len;
	char *save = NULL;

	if (!is_fs(CGROUP_ROOT, TMPFS_MAGIC) || !is_fs(UNIFIED, CGROUP2_SUPER_MAGIC))
		return;
	if (gd_mountinfo_read(NULL, &m, NULL) < 0)
		return;
	mount_orphaned(&m, log);
	if (gdn_fs_read_file(UNIFIED "/cgroup.controllers", 4096, &controllers, &len, NULL) < 0)
		return;
	for (char *c = strtok_r(controllers, " \n", &save); c; c = strtok_r(NULL, " \n", &save))
		mount_v1(c, log);
}
