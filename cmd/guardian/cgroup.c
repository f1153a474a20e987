/* Container cgroups through cgroupfs. Hierarchies are found in /proc/self/mountinfo; this
 * process's own cgroup in each comes from /proc/self/cgroup. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include "lib/fs.h"
#include "lib/path.h"
#include "lib/util.h"
#include "cmd/guardian/cgroup.h"
#include "cmd/guardian/mountinfo.h"

#define RMDIR_TRIES 50
#define RMDIR_DELAY_NS (100 * 1000 * 1000L)
#define PROCS_MAX (16 << 20)

/* Whether a /proc/<pid>/cgroup controller list ("cpu,cpuacct", "name=systemd", "") belongs to
 * mount `m`. */
static bool hierarchy_matches(const struct gd_mount *m, const char *controllers)
{
	if (controllers[0] == '\0')
		return strcmp(m->fstype, "cgroup2") == 0;
	if (strcmp(m->fstype, "cgroup") != 0)
		return false;
	_cleanup_free_ char *list = strdup(controllers);
	if (!list)
		return false;
	char *save = NULL;
	for (char *c = strtok_r(list, ",", &save); c; c = strtok_r(NULL, ",", &save))
		if (!gd_opts_has(m->super_opts, c))
			return false;
	return true;
}

/* The path of cgroup `cg` (as /proc/<pid>/cgroup shows it) under mount `m`, malloc'd. */
static char *cgroup_dir(const struct gd_mount *m, const char *cg)
{
	size_t rlen = strlen(m->root);
	if (strcmp(m->root, "/") != 0) {
		if (strncmp(cg, m->root, rlen) != 0 || (cg[rlen] != '/' && cg[rlen] != '\0'))
			return NULL;
		cg += rlen;
	}
	char *p = NULL;
	return asprintf(&p, "%s%s%s", m->target, cg[0] == '/' || cg[0] == '\0' ? "" : "/", cg) < 0
		   ? NULL
		   : p;
}

/* The cgroup of `pid` in the hierarchy of mount `m`, from /proc/<pid>/cgroup (malloc'd), or
 * NULL if it is not listed. */
static char *own_cgroup(const char *proc_cgroup, const struct gd_mount *m)
{
	_cleanup_free_ char *text = strdup(proc_cgroup);
	if (!text)
		return NULL;
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *c1 = strchr(line, ':');
		char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c2 = '\0';
		if (hierarchy_matches(m, c1 + 1))
			return strdup(c2 + 1);
	}
	return NULL;
}

/* rmdir of a cgroup and its sub-cgroups, deepest first. Returns 1 if it removed `path`, 0 if
 * it did not exist, or -errno. */
static int rmdir_tree(const char *path)
{
	_cleanup_closedir_ DIR *d = opendir(path);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_type != DT_DIR || strcmp(e->d_name, ".") == 0 ||
		    strcmp(e->d_name, "..") == 0)
			continue;
		_cleanup_free_ char *sub = gdn_path_join(path, e->d_name);
		if (!sub)
			return -ENOMEM;
		int r = rmdir_tree(sub);
		if (r < 0)
			return r;
	}
	if (rmdir(path) < 0)
		return errno == ENOENT ? 0 : -errno;
	return 1;
}

static int remove_one(const char *path, struct gdn_log *log, struct gdn_err **err)
{
	int r = 0;
	for (int i = 0; i < RMDIR_TRIES; i++) {
		r = rmdir_tree(path);
		if (r != -EBUSY)
			break;
		struct timespec ts = {0, RMDIR_DELAY_NS};
		(void)nanosleep(&ts, NULL);
	}
	if (r == -EBUSY)
		return gdn_err_set(err, EBUSY, "cannot remove cgroup '%s': processes remain", path);
	if (r < 0)
		return gdn_err_set(err, -r, "cannot remove cgroup '%s'", path);
	if (r > 0)
		gdn_log_debug(log, "removed-cgroup", "path", path, NULL);
	return 0;
}

int gd_cgroup_remove(const char *rel, struct gdn_log *log, struct gdn_err **err)
{
	_cleanup_mounts_ struct gd_mounts mounts = {0};
	_cleanup_free_ char *self = NULL;
	size_t len = 0;
	int r = gd_mountinfo_read(NULL, &mounts, err);
	if (r < 0)
		return r;
	r = gdn_fs_read_file("/proc/self/cgroup", 1 << 20, &self, &len, err);
	if (r < 0)
		return r;

	int ret = 0;
	for (size_t i = 0; i < mounts.n; i++) {
		const struct gd_mount *m = &mounts.v[i];
		if (strcmp(m->fstype, "cgroup") != 0 && strcmp(m->fstype, "cgroup2") != 0)
			continue;
		_cleanup_free_ char *at_root = gdn_path_join(m->target, rel);
		_cleanup_free_ char *own = own_cgroup(self, m);
		_cleanup_free_ char *own_dir = own ? cgroup_dir(m, own) : NULL;
		_cleanup_free_ char *at_own = own_dir ? gdn_path_join(own_dir, rel) : NULL;
		if (!at_root)
			return gdn_err_set(err, ENOMEM, "cannot remove cgroups");
		r = remove_one(at_root, log, err);
		if (r < 0 && ret == 0)
			ret = r;
		if (at_own && strcmp(at_own, at_root) != 0) {
			r = remove_one(at_own, log, err);
			if (r < 0 && ret == 0)
				ret = r;
		}
	}
	return ret;
}

static int parse_procs(const char *text, pid_t **ret, size_t *ret_n)
{
	size_t n = 0, cap = 0;
	pid_t *v = NULL;
	const char *p = text;
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char num[16];
		uint32_t pid = 0;
		if (len > 0 && len < sizeof(num)) {
			memcpy(num, p, len);
			num[len] = '\0';
			if (gdn_parse_u32(num, &pid) == 0 && pid > 0) {
				if (n == cap) {
					cap = cap ? cap * 2 : 32;
					pid_t *nv = reallocarray(v, cap, sizeof(*nv));
					if (!nv) {
						free(v);
						return -ENOMEM;
					}
					v = nv;
				}
				v[n++] = (pid_t)pid;
			}
		}
		p = nl ? nl + 1 : p + len;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

/* Cuts a trailing /garden/<name>/@init back to /garden/<name>. */
static void leave_init_leaf(char *dir)
{
	static const char leaf[] = "/" GDN_CGROUP_INIT_LEAF;
	size_t n = strlen(dir), ln = strlen(leaf);
	if (n <= ln || strcmp(dir + n - ln, leaf) != 0)
		return;
	char *name_end = dir + n - ln, *slash = name_end;
	while (slash > dir && slash[-1] != '/')
		slash--;
	static const char garden[] = "/garden/";
	size_t gn = strlen(garden);
	if (slash == name_end || (size_t)(slash - dir) < gn || strncmp(slash - gn, garden, gn) != 0)
		return;
	*name_end = '\0';
}

char *gd_cgroup_dir_in(const struct gd_mounts *mounts, const char *proc_cgroup, const char *wanted,
		       bool *ret_unified)
{
	for (size_t i = 0; i < mounts->n; i++) {
		const struct gd_mount *m = &mounts->v[i];
		if (!hierarchy_matches(m, wanted))
			continue;
		_cleanup_free_ char *mine = own_cgroup(proc_cgroup, m);
		char *dir = mine ? cgroup_dir(m, mine) : NULL;
		if (dir) {
			if (ret_unified)
				*ret_unified = wanted[0] == '\0';
			if (wanted[0] == '\0')
				leave_init_leaf(dir);
			return dir;
		}
	}
	return NULL;
}

int gd_cgroup_read_of(pid_t pid, char **ret, struct gdn_err **err)
{
	char path[64];
	size_t len = 0;
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	int r = gdn_fs_read_file(path, 1 << 20, ret, &len, err);
	if (r == -ENOENT)
		return gdn_err_set(err, ESRCH, "process %d is gone", (int)pid);
	return r;
}

/* The directory of pid's cgroup in the first of the hierarchies `wanted` (controller lists as
 * /proc/<pid>/cgroup names them; "" the unified one) that has it; malloc'd, or NULL (ENOENT). */
static int dir_of(pid_t pid, const char *const *wanted, size_t n_wanted, char **ret,
		  struct gdn_err **err)
{
	_cleanup_free_ char *cg = NULL;
	_cleanup_mounts_ struct gd_mounts mounts = {0};
	int r = gd_cgroup_read_of(pid, &cg, err);
	if (r < 0)
		return r;
	r = gd_mountinfo_read(NULL, &mounts, err);
	if (r < 0)
		return r;

	char *dir = NULL;
	for (size_t w = 0; w < n_wanted && !dir; w++)
		dir = gd_cgroup_dir_in(&mounts, cg, wanted[w], NULL);
	if (!dir)
		return gdn_err_set(err, ENOENT, "cannot find the cgroup of process %d", (int)pid);
	*ret = dir;
	return 0;
}

int gd_cgroup_procs_of(pid_t pid, pid_t **ret, size_t *ret_n, struct gdn_err **err)
{
	/* Prefer the v1 devices hierarchy (Garden's choice), then pids, then the unified one. */
	static const char *const wanted[] = {"devices", "pids", ""};
	_cleanup_free_ char *dir = NULL;
	size_t len = 0;
	int r = dir_of(pid, wanted, GDN_ARRAY_SIZE(wanted), &dir, err);
	if (r < 0)
		return r;

	_cleanup_free_ char *procs_path = gdn_path_join(dir, "cgroup.procs");
	_cleanup_free_ char *leaf_path = gdn_path_join(dir, GDN_CGROUP_INIT_LEAF "/cgroup.procs");
	_cleanup_free_ char *procs = NULL, *leaf = NULL;
	if (!procs_path || !leaf_path)
		return gdn_err_set(err, ENOMEM, "cannot list cgroup processes");
	r = gdn_fs_read_file(procs_path, PROCS_MAX, &procs, &len, err);
	if (r < 0)
		return r;
	/* on v2 the container's processes are in its @init leaf (a pea's are in their own) */
	if (gdn_fs_read_file(leaf_path, PROCS_MAX, &leaf, &len, NULL) >= 0) {
		_cleanup_free_ char *both = NULL;
		if (asprintf(&both, "%s%s", procs, leaf) < 0) {
			both = NULL;
			return gdn_err_set(err, ENOMEM, "cannot list cgroup processes");
		}
		free(procs);
		procs = gdn_steal_ptr(&both);
	}
	if (parse_procs(procs, ret, ret_n) < 0)
		return gdn_err_set(err, ENOMEM, "cannot list cgroup processes");
	return 0;
}

/* Whether `dir` ends in /garden/<handle>, exactly. */
static bool is_container_own(const char *dir, const char *handle)
{
	size_t n = strlen(dir), hl = strlen(handle), gn = strlen("/garden/");
	return n >= gn + hl && strcmp(dir + n - hl, handle) == 0 &&
	       strncmp(dir + n - hl - gn, "/garden/", gn) == 0;
}

int gd_cgroup_init_to_leaf(pid_t pid, const char *handle, struct gdn_err **err)
{
	static const char *const v2[] = {""};
	_cleanup_free_ char *dir = NULL, *leaf = NULL, *procs = NULL;
	int r = dir_of(pid, v2, 1, &dir, err);
	char text[16];

	if (r < 0)
		return gdn_err_wrap(err, "move the container's init to its cgroup leaf");
	if (!is_container_own(dir, handle))
		return gdn_err_set(err, ENOENT, "process %d is not in the cgroup of '%s' (%s)",
				   (int)pid, handle, dir);
	leaf = gdn_path_join(dir, GDN_CGROUP_INIT_LEAF);
	procs = leaf ? gdn_path_join(leaf, "cgroup.procs") : NULL;
	if (!procs)
		return gdn_err_set(err, ENOMEM, "move the container's init");
	if (mkdir(leaf, 0755) < 0 && errno != EEXIST)
		return gdn_err_set(err, errno, "mkdir '%s'", leaf);
	int n = snprintf(text, sizeof(text), "%d", (int)pid);
	r = gdn_fs_write_file(procs, text, (size_t)n, err);
	if (r < 0)
		return gdn_err_wrap(err, "move the container's init to '%s'", leaf);
	return 0;
}

bool gd_cgroup_in_init_leaf(pid_t pid, const char *handle)
{
	_cleanup_free_ char *cg = NULL;
	char want[GDN_HANDLE_MAX + 32];
	if ((size_t)snprintf(want, sizeof(want), "/garden/%s/" GDN_CGROUP_INIT_LEAF "\n", handle) >=
		sizeof(want) ||
	    gd_cgroup_read_of(pid, &cg, NULL) < 0)
		return false;
	/* the unified hierarchy's line, "0::<path>\n", the path maybe below our own cgroup */
	for (const char *line = cg; *line;) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line + 1) : strlen(line);
		size_t wl = strlen(want);
		if (strncmp(line, "0::", 3) == 0 && len >= wl &&
		    strncmp(line + len - wl, want, wl) == 0)
			return true;
		line += len;
	}
	return false;
}

/* blkio (v1) or io (v2) weight files, the plain (CFQ, or v2's io controller) one first, then
 * BFQ's. Only v2's io.weight has another scale (1-10000). */
static const char *const weight_files[2][2] = {{"blkio.weight", "blkio.bfq.weight"},
					       {"io.weight", "io.bfq.weight"}};

/* The first of dir's weight files (v1 or v2) that exists, malloc'd in *ret, and its index;
 * -EOPNOTSUPP when it has none. */
static int find_weight_file(const char *dir, bool v2, char **ret, size_t *ret_i,
			    struct gdn_err **err)
{
	const char *const *files = weight_files[v2];

	for (size_t i = 0; i < 2; i++) {
		char *path = gdn_path_join(dir, files[i]);
		if (!path)
			return gdn_err_set(err, ENOMEM, "find the block IO weight file");
		if (access(path, F_OK) == 0) {
			*ret = path;
			*ret_i = i;
			return 0;
		}
		free(path);
	}
	return gdn_err_set(err, EOPNOTSUPP, "'%s' has no block IO weight file (%s or %s)", dir,
			   files[0], files[1]);
}

static int write_weight(const char *dir, bool v2, uint16_t weight, struct gdn_err **err)
{
	_cleanup_free_ char *path = NULL;
	size_t i;
	int r = find_weight_file(dir, v2, &path, &i, err);
	if (r < 0)
		return r;
	/* runc's conversion of a blkio weight (10-1000) to io.weight's scale */
	unsigned v = v2 && i == 0 ? 1 + ((unsigned)weight - 10) * 9999 / 990 : weight;
	char text[32];
	int n = snprintf(text, sizeof(text), v2 ? "default %u\n" : "%u\n", v);
	return gdn_fs_write_file(path, text, (size_t)n, err);
}

int gd_cgroup_set_io_weight(pid_t pid, uint16_t weight, struct gdn_err **err)
{
	static const char *const v1[] = {"blkio"}, *const v2[] = {""};
	_cleanup_free_ char *dir = NULL;
	bool unified = false;
	int r = dir_of(pid, v1, 1, &dir, NULL);

	if (r < 0) {
		unified = true;
		r = dir_of(pid, v2, 1, &dir, err);
	}
	if (r < 0 || (r = write_weight(dir, unified, weight, err)) < 0)
		return gdn_err_wrap(err, "set the block IO weight of process %d", (int)pid);
	return 0;
}

int gd_cgroup_check_io_weight(struct gdn_err **err)
{
	static const char *const v1[] = {"blkio"}, *const v2[] = {""};
	_cleanup_free_ char *dir = NULL, *path = NULL, *controllers = NULL;
	size_t len = 0;

	if (dir_of(getpid(), v1, 1, &dir, NULL) >= 0) {
		/* v1: every blkio cgroup, the root too, has the weight files the scheduler offers
		 */
		size_t i;
		if (find_weight_file(dir, false, &path, &i, NULL) == 0)
			return 0;
		return gdn_err_set(
		    err, EOPNOTSUPP,
		    "this host cannot weight block IO: '%s' has neither blkio.weight "
		    "nor blkio.bfq.weight (no disk uses the BFQ scheduler)",
		    dir);
	}
	int r = dir_of(getpid(), v2, 1, &dir, err);
	if (r < 0)
		return r;
	/* v2: the weight files appear below a cgroup whose parent enables io (iocost or BFQ) */
	path = gdn_path_join(dir, "cgroup.controllers");
	if (!path)
		return gdn_err_set(err, ENOMEM, "check the block IO weight");
	if ((r = gdn_fs_read_file(path, 4096, &controllers, &len, err)) < 0)
		return r;
	for (char *c = controllers; (c = strstr(c, "io")); c += 2)
		if ((c == controllers || c[-1] == ' ') && (c[2] == ' ' || c[2] == '\n' || !c[2]))
			return 0;
	return gdn_err_set(
	    err, EOPNOTSUPP,
	    "this host cannot weight block IO: the unified hierarchy has no io controller");
}

/* Whether `dir` ends in /garden/<handle>. */
bool gd_cgroup_is_container(const char *dir, const char *handle)
{
	size_t hl = strlen(handle);
	for (const char *p = strstr(dir, "/garden/"); p; p = strstr(p + 1, "/garden/")) {
		const char *h = p + strlen("/garden/");
		if (strncmp(h, handle, hl) == 0 && (h[hl] == '\0' || h[hl] == '/'))
			return true;
	}
	return false;
}

int gd_cgroup_oom_file(pid_t pid, const char *handle, char **ret, struct gdn_err **err)
{
	static const char *const v1[] = {"memory"}, *const v2[] = {""};
	_cleanup_free_ char *dir = NULL;
	const char *file = "memory.oom_control";
	int r = dir_of(pid, v1, 1, &dir, NULL);

	if (r < 0) {
		file = "memory.events";
		r = dir_of(pid, v2, 1, &dir, err);
	}
	if (r < 0)
		return gdn_err_wrap(err, "find the memory cgroup of process %d", (int)pid);
	if (!gd_cgroup_is_container(dir, handle))
		return gdn_err_set(err, ENOENT, "process %d is not in the cgroup of '%s' (%s)",
				   (int)pid, handle, dir);
	_cleanup_free_ char *path = gdn_path_join(dir, file);
	if (!path)
		return gdn_err_set(err, ENOMEM, "find the memory cgroup of process %d", (int)pid);
	/* v2 has the file only where the memory controller is enabled */
	if (access(path, F_OK) < 0)
		return gdn_err_set(err, errno, "no OOM counter '%s'", path);
	*ret = gdn_steal_ptr(&path);
	return 0;
}
