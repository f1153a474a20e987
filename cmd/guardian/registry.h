/* guardian's in-memory view of its containers. The depot is the source of truth: every change
 * to a container's properties is written to <depot>/<handle>/properties.json atomically before
 * the request that made it is answered, and the registry is rebuilt from the depot at start-up.
 * Whether a create completed is guardian's own state, kept apart from the client-writable
 * properties: the `created` marker in the container dir (container.h). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include "lib/err.h"
#include "cmd/guardian/cgroup_stats.h"
#include "cmd/guardian/config.h"

enum gd_ctr_state {
	GD_CTR_CREATING,   /* a create worker is running; hidden from List */
	GD_CTR_ACTIVE,	   /* created (Info State "active" or "stopped") */
	GD_CTR_DESTROYING, /* a destroy worker is running */
};

struct gd_ctr {
	char *handle;
	enum gd_ctr_state state;
	enum gd_ctr_state state_before_destroy;
	json_t *props;	      /* object string -> string */
	uint64_t grace_ns;    /* 0 = never reap */
	uint64_t deadline_ns; /* monotonic; valid when grace_ns > 0 and refs == 0 */
	unsigned refs;	      /* requests in flight that pause the grace timer */
	uint64_t serial;      /* unique per registration, never reused */
	/* What Run needs, read once from the depot when create completed or at restore
	 * (gd_ctr_load): the init's host pid, the privileged flag and {"process": <config.json's
	 * process>}, the defaults every process of the container starts from. */
	pid_t init_pid;
	bool init_leaf; /* the init is in its cgroup v2 leaf (cgroup.h): Runs join it */
	bool privileged;
	uint64_t cpu_shares; /* config.json's linux.resources.cpu.shares (0: none), for Metrics */
	json_t *run_base;    /* NULL until loaded */
	/* OOM events (oom.h): the kernel's OOM-kill count of the container's memory cgroup when
	 * guardian last recorded events from it (saved with the properties, events.h), and the
	 * file it is read from, looked up once (a lookup that failed is not retried). */
	uint64_t oom_kills;
	char *oom_file;
	bool oom_looked_up;
	/* Metrics: the container's cgroup directories, found from the init's pid the first time
	 * they are asked for (cgroup_stats.h); valid when cg_found */
	struct gd_cgroup_dirs cg;
	bool cg_found;
	uint64_t
	    created_ns; /* when the runtime wrote the pidfile (CLOCK_REALTIME); 0: not yet read */
	struct gd_ctr *next;
};

struct gd_registry {
	struct gd_ctr *head;
	size_t count;
};

struct gd_ctr *gd_registry_find(struct gd_registry *r, const char *handle);
/* Adds a container in state CREATING with a copy of props. */
struct gd_ctr *gd_registry_add(struct gd_registry *r, const char *handle, json_t *props,
			       uint64_t grace_ns);
void gd_registry_remove(struct gd_registry *r, struct gd_ctr *c);
void gd_registry_free(struct gd_registry *r);

/* Writes c->props to <depot>/<handle>/properties.json atomically (without garden.state, which
 * guardian reports but never takes from there), with c->oom_kills (events.h). */
int gd_ctr_save(const struct gd_config *cfg, const struct gd_ctr *c, struct gdn_err **err);
/* Fills init_pid, privileged, cpu_shares and run_base from <depot>/<handle>/{pidfile,config.json}.
 */
int gd_ctr_load(const struct gd_config *cfg, struct gd_ctr *c, struct gdn_err **err);

/* Properties only guardian sets (garden.state, garden.network.*, and the hidden
 * GD_PROP_OOM_KILLS): clients may read them but neither set nor remove them. */
bool gd_prop_reserved(const char *name);

/* Grace timer: pause while a request addresses the container; resume restarts the countdown. */
void gd_ctr_pause(struct gd_ctr *c);
void gd_ctr_resume(struct gd_ctr *c);
void gd_ctr_set_grace(struct gd_ctr *c, uint64_t grace_ns);

/* The property garden.grace-time as nanoseconds (0 if absent/invalid). */
uint64_t gd_props_grace(json_t *props);
