/* Metrics and BulkMetrics (protocol §4.9-4.10, internals §14.2): what one container uses, read
 * by a worker process (handlers_metrics.c) from cgroupfs, the depot, the volumizer or image
 * plugin and /proc, never by running the runtime. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>
#include "lib/buf.h"
#include "lib/err.h"
#include "lib/log.h"
#include "cmd/guardian/cgroup_stats.h"
#include "cmd/guardian/config.h"

/* One container, as the loop knows it when the request arrives. */
struct gd_metrics_target {
	char *handle;
	char *error; /* non-NULL: the entry is this error (unknown handle, being created...) */
	struct gd_cgroup_dirs cg;
	uint64_t cpu_shares;
	uint64_t created_ns; /* CLOCK_REALTIME; Age counts from it */
	pid_t init_pid;	     /* for NetworkStat: /proc/<pid>/net/dev */
	char *net_iface;     /* NetworkStat's interface (network metrics on, a plugin named it) */
};

struct gd_metrics_job {
	bool bulk; /* BulkMetrics: a map of entries; else the one target's Metrics */
	int sock;  /* a duplicate of the client's connection: the worker writes the response */
	size_t n;
	struct gd_metrics_target *targets;
	/* the images' sizes known so far (gd_volume_disk_stat): the loop's, borrowed; the worker
	 * adds to its copy and returns it */
	json_t *image_sizes;
};
void gd_metrics_job_free(void *job);

/* One container's Metrics object. */
int gd_metrics_of(const struct gd_config *cfg, const struct gd_metrics_target *t,
		  json_t *image_sizes, struct gdn_log *log, json_t **ret, struct gdn_err **err);

/* A BulkMetrics entry: {"Metrics":..., "Err":null}, or zero metrics and an untyped error (as
 * Garden converts per-handle errors, protocol §4.8). */
json_t *gd_metrics_entry(const struct gd_config *cfg, const struct gd_metrics_target *t,
			 json_t *image_sizes, struct gdn_log *log);

/* BulkMetrics' body, "{...}\n", the targets sorted by handle (Go encodes a map so): on two
 * cores for many containers (metrics_bulk.c). The image sizes learnt are added to the job's. */
int gd_metrics_bulk_body(const struct gd_config *cfg, struct gd_metrics_job *j, struct gdn_log *log,
			 struct gdn_buf *ret);

/* The container's created time (the runtime wrote its pidfile at create; Garden's fallback for
 * runc's `created`), ns of CLOCK_REALTIME; 0 if unknown. */
uint64_t gd_metrics_created_ns(const struct gd_config *cfg, const char *handle);

/* Pure parts, for tests. The Metrics object of figures already read; CPUEntitlement is
 * shares x (per_share / 100) x age, as Garden computes it. */
struct gd_metrics_figures {
	struct gd_cgroup_stats cg;
	uint64_t disk_total_bytes, disk_total_inodes, disk_exclusive_bytes, disk_exclusive_inodes;
	bool have_net;
	uint64_t rx_bytes, tx_bytes;
	uint64_t age_ns;
	uint64_t cpu_entitlement;
};
json_t *gd_metrics_json(const struct gd_metrics_figures *f);
/* An entry's Metrics when its Err is set: every figure 0, NetworkStat null. */
json_t *gd_metrics_zero_json(void);
uint64_t gd_cpu_entitlement(uint64_t shares, double per_share, uint64_t age_ns);
/* The rx and tx byte counters of `iface` in a /proc/<pid>/net/dev text; -ENOENT if absent. */
int gd_net_dev_parse(const char *text, const char *iface, uint64_t *ret_rx, uint64_t *ret_tx);
