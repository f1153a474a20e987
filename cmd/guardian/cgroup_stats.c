/* Container usage figures from cgroupfs, as runc's stats would give them (cgroup_stats.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "lib/fs.h"
#include "lib/path.h"
#include "lib/util.h"
#include "cmd/guardian/cgroup.h"
#include "cmd/guardian/cgroup_stats.h"

#define STAT_FILE_MAX (64 * 1024)
#define NS_PER_SEC 1000000000ULL
#define NS_PER_USEC 1000ULL

const char *const gd_memstat_keys[GD_MEM_N] = {
    "active_anon",
    "active_file",
    "cache",
    "hierarchical_memory_limit",
    "inactive_anon",
    "inactive_file",
    "mapped_file",
    "pgfault",
    "pgmajfault",
    "pgpgin",
    "pgpgout",
    "rss",
    "total_active_anon",
    "total_active_file",
    "total_cache",
    "total_inactive_anon",
    "total_inactive_file",
    "total_mapped_file",
    "total_pgfault",
    "total_pgmajfault",
    "total_pgpgin",
    "total_pgpgout",
    "total_rss",
    "total_unevictable",
    "unevictable",
    "swap",
    "hierarchical_memsw_limit",
    "total_swap",
    "TotalUsageTowardLimit",
    "anon",
    "file",
    "swapcached",
};

void gd_cgroup_dirs_free(struct gd_cgroup_dirs *d)
{
	free(d->memory);
	free(d->cpu);
	free(d->pids);
	*d = (struct gd_cgroup_dirs){0};
}

/* The decimal number that starts s and runs to the end of its line. */
static int parse_line_u64(const char *s, uint64_t *ret)
{
	char num[24];
	size_t n = strcspn(s, "\n");
	if (n >= sizeof(num))
		return -ERANGE;
	memcpy(num, s, n);
	num[n] = '\0';
	return gdn_parse_u64(num, ret);
}

/* The value of `key` in a "key value\n" file (first match), or false. Values that do not fit a
 * uint64 count as absent, as Go's decoder would refuse them. */
static bool kv_get(const char *text, const char *key, uint64_t *ret)
{
	size_t klen = strlen(key);
	for (const char *line = text; *line;) {
		if (strncmp(line, key, klen) == 0 && line[klen] == ' ')
			return parse_line_u64(line + klen + 1, ret) == 0;
		const char *nl = strchr(line, '\n');
		if (!nl)
			break;
		line = nl + 1;
	}
	return false;
}

void gd_memstat_parse(const char *text, uint64_t mem[GD_MEM_N])
{
	for (size_t i = 0; i < GD_MEM_N; i++) {
		uint64_t v = 0;
		if (i != GD_MEM_TOTAL_USAGE_TOWARD_LIMIT && kv_get(text, gd_memstat_keys[i], &v))
			mem[i] = v;
	}
}

static uint64_t mem_of(const uint64_t mem[GD_MEM_N], const char *key)
{
	for (size_t i = 0; i < GD_MEM_N; i++)
		if (strcmp(gd_memstat_keys[i], key) == 0)
			return mem[i];
	return 0;
}

uint64_t gd_memstat_usage_toward_limit(const uint64_t mem[GD_MEM_N], bool v2)
{
	uint64_t total, inactive;
	if (v2) {
		total = mem_of(mem, "file") + mem_of(mem, "anon") + mem_of(mem, "swapcached");
		inactive = mem_of(mem, "inactive_file");
	} else {
		total = mem_of(mem, "total_rss") + mem_of(mem, "total_cache") +
			mem_of(mem, "total_swap");
		inactive = mem_of(mem, "total_inactive_file");
	}
	return inactive > total ? 0 : total - inactive;
}

void gd_cpuacct_stat_parse(const char *text, long hz, uint64_t *ret_user, uint64_t *ret_system)
{
	uint64_t user = 0, system = 0;
	if (hz <= 0)
		hz = 100;
	(void)kv_get(text, "user", &user);
	(void)kv_get(text, "system", &system);
	/* runc's conversion of clock ticks to ns */
	*ret_user = user * NS_PER_SEC / (uint64_t)hz;
	*ret_system = system * NS_PER_SEC / (uint64_t)hz;
}

void gd_cpu_stat_parse(const char *text, uint64_t *ret_usage, uint64_t *ret_user,
		       uint64_t *ret_system)
{
	uint64_t usage = 0, user = 0, system = 0;
	(void)kv_get(text, "usage_usec", &usage);
	(void)kv_get(text, "user_usec", &user);
	(void)kv_get(text, "system_usec", &system);
	*ret_usage = usage * NS_PER_USEC;
	*ret_user = user * NS_PER_USEC;
	*ret_system = system * NS_PER_USEC;
}

int gd_cgroup_dirs_of(const struct gd_mounts *mounts, pid_t pid, struct gd_cgroup_dirs *ret,
		      struct gdn_err **err)
{
	_cleanup_free_ char *cg = NULL;
	int r = gd_cgroup_read_of(pid, &cg, err);
	if (r < 0)
		return r;
	*ret = (struct gd_cgroup_dirs){0};
	/* a v1 controller's own hierarchy first: on hybrid hosts the unified one holds none */
	ret->memory = gd_cgroup_dir_in(mounts, cg, "memory", NULL);
	if (!ret->memory)
		ret->memory = gd_cgroup_dir_in(mounts, cg, "", &ret->memory_v2);
	ret->cpu = gd_cgroup_dir_in(mounts, cg, "cpuacct", NULL);
	if (!ret->cpu)
		ret->cpu = gd_cgroup_dir_in(mounts, cg, "", &ret->cpu_v2);
	ret->pids = gd_cgroup_dir_in(mounts, cg, "pids", NULL);
	if (!ret->pids)
		ret->pids = gd_cgroup_dir_in(mounts, cg, "", NULL);
	return 0;
}

/* <dir>/<name>, read whole (malloc'd, NUL-terminated). */
static int read_in(const char *dir, const char *name, char **ret, struct gdn_err **err)
{
	_cleanup_free_ char *path = gdn_path_join(dir, name);
	size_t len = 0;
	if (!path)
		return gdn_err_set(err, ENOMEM, "read cgroup stats");
	return gdn_fs_read_file(path, STAT_FILE_MAX, ret, &len, err);
}

/* Whether the cgroup at dir holds a process. v2 says so for the whole subtree in
 * cgroup.events (the container's processes are in its @init leaf, a pea's in its own); on v1
 * the first bytes of cgroup.procs are enough (it may be long). */
static int has_process(const char *dir, bool v2, bool *ret, struct gdn_err **err)
{
	if (v2) {
		_cleanup_free_ char *text = NULL;
		uint64_t populated = 0;
		int r = read_in(dir, "cgroup.events", &text, err);
		if (r < 0)
			return r;
		if (!kv_get(text, "populated", &populated))
			return gdn_err_set(err, EINVAL, "'%s/cgroup.events' has no 'populated'",
					   dir);
		*ret = populated != 0;
		return 0;
	}
	_cleanup_free_ char *path = gdn_path_join(dir, "cgroup.procs");
	char buf[16];
	if (!path)
		return gdn_err_set(err, ENOMEM, "read cgroup stats");
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf));
	if (n < 0)
		return gdn_err_set(err, errno, "read '%s'", path);
	*ret = n > 0;
	return 0;
}

static int read_u64_in(const char *dir, const char *name, uint64_t *ret, struct gdn_err **err)
{
	_cleanup_free_ char *text = NULL;
	int r = read_in(dir, name, &text, err);
	if (r < 0)
		return r;
	if (strncmp(text, "max", 3) == 0) {
		*ret = 0;
		return 0;
	}
	if (parse_line_u64(text, ret) < 0)
		return gdn_err_set(err, EINVAL, "'%s/%s' holds no number", dir, name);
	return 0;
}

static int read_cpu(const struct gd_cgroup_dirs *d, struct gd_cgroup_stats *s, struct gdn_err **err)
{
	_cleanup_free_ char *text = NULL;
	int r;
	if (d->cpu_v2) {
		if ((r = read_in(d->cpu, "cpu.stat", &text, err)) < 0)
			return r;
		gd_cpu_stat_parse(text, &s->cpu_usage, &s->cpu_user, &s->cpu_system);
		return 0;
	}
	if ((r = read_u64_in(d->cpu, "cpuacct.usage", &s->cpu_usage, err)) < 0 ||
	    (r = read_in(d->cpu, "cpuacct.stat", &text, err)) < 0)
		return r;
	gd_cpuacct_stat_parse(text, sysconf(_SC_CLK_TCK), &s->cpu_user, &s->cpu_system);
	return 0;
}

int gd_cgroup_stats_read(const struct gd_cgroup_dirs *d, struct gd_cgroup_stats *ret,
			 struct gdn_err **err)
{
	int r;
	*ret = (struct gd_cgroup_stats){.v2 = d->memory_v2};
	if (d->memory) {
		_cleanup_free_ char *text = NULL;
		if ((r = read_in(d->memory, "memory.stat", &text, err)) < 0)
			return r;
		gd_memstat_parse(text, ret->mem);
		if ((r = has_process(d->memory, ret->v2, &ret->populated, err)) < 0)
			return r;
		ret->mem[GD_MEM_TOTAL_USAGE_TOWARD_LIMIT] =
		    gd_memstat_usage_toward_limit(ret->mem, ret->v2);
	}
	if (d->cpu && (r = read_cpu(d, ret, err)) < 0)
		return r;
	if (d->pids && ((r = read_u64_in(d->pids, "pids.current", &ret->pids_current, err)) < 0 ||
			(r = read_u64_in(d->pids, "pids.max", &ret->pids_max, err)) < 0))
		return r;
	return 0;
}
