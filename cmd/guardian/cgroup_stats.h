/* A container's resource usage, read straight from cgroupfs (v1, hybrid or v2) rather than by
 * running `runc events --stats` per container as Garden does: the values runc would report
 * (internals §14.2), from the files it reads them from. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "lib/err.h"
#include "cmd/guardian/mountinfo.h"

/* Garden's ContainerMemoryStat, in its JSON order. memory.stat's keys are decoded into it by
 * name, as Go decodes runc's `raw` map: v1 hosts fill cache, rss, total_*, v2 hosts anon,
 * file and the rest; keys Garden does not know are dropped. TotalUsageTowardLimit is not a
 * memory.stat key: gd_memstat_usage_toward_limit computes it. */
enum {
	GD_MEM_TOTAL_USAGE_TOWARD_LIMIT = 28,
	GD_MEM_N = 32,
};
extern const char *const gd_memstat_keys[GD_MEM_N];

struct gd_cgroup_stats {
	bool v2; /* the memory figures came from the unified hierarchy */
	uint64_t mem[GD_MEM_N];
	uint64_t cpu_usage, cpu_user, cpu_system; /* ns */
	uint64_t pids_current, pids_max;	  /* max 0: no limit ("max"), as runc reports it */
	bool populated; /* the memory cgroup has a process (a zombie counts in pids, not here) */
};

/* The cgroup directories of one container (malloc'd; NULL: that controller is not mounted). */
struct gd_cgroup_dirs {
	char *memory, *cpu, *pids;
	bool memory_v2, cpu_v2;
};
void gd_cgroup_dirs_free(struct gd_cgroup_dirs *d);

/* The hierarchies of `mounts` (parsed once per request) that hold memory, cpu accounting and
 * pids, and pid's cgroup in each (from /proc/<pid>/cgroup): the v1 controller's own hierarchy
 * where it has one, else the unified one. -ESRCH when the process is gone. */
int gd_cgroup_dirs_of(const struct gd_mounts *mounts, pid_t pid, struct gd_cgroup_dirs *ret,
		      struct gdn_err **err);

/* Reads memory.stat and cgroup.procs, cpuacct.usage + cpuacct.stat (v1) or cpu.stat (v2),
 * pids.current and pids.max. A controller whose directory is NULL leaves its figures 0. */
int gd_cgroup_stats_read(const struct gd_cgroup_dirs *d, struct gd_cgroup_stats *ret,
			 struct gdn_err **err);

/* Parsers, for tests: memory.stat text into mem[] (by name; other keys ignored); cpuacct.stat's
 * user/system clock ticks (USER_HZ `hz`) as ns; cpu.stat's usage/user/system_usec as ns. */
void gd_memstat_parse(const char *text, uint64_t mem[GD_MEM_N]);
void gd_cpuacct_stat_parse(const char *text, long hz, uint64_t *ret_user, uint64_t *ret_system);
void gd_cpu_stat_parse(const char *text, uint64_t *ret_usage, uint64_t *ret_user,
		       uint64_t *ret_system);

/* Garden's TotalUsageTowardLimit: v1 total_rss + total_cache + total_swap - total_inactive_file,
 * v2 file + anon + swapcached - inactive_file; 0 rather than negative. */
uint64_t gd_memstat_usage_toward_limit(const uint64_t mem[GD_MEM_N], bool v2);
