/* One container's Metrics (metrics.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "lib/depot.h"
#include "lib/errwire.h"
#include "lib/fs.h"
#include "lib/path.h"
#include "lib/util.h"
#include "cmd/guardian/cgroup.h"
#include "cmd/guardian/container.h"
#include "cmd/guardian/imageplugin.h"
#include "cmd/guardian/metrics.h"
#include "cmd/guardian/volume_store.h"

#define NET_DEV_MAX (256 * 1024)

void gd_metrics_job_free(void *p)
{
	struct gd_metrics_job *j = p;
	if (!j)
		return;
	for (size_t i = 0; i < j->n; i++) {
		free(j->targets[i].handle);
		free(j->targets[i].error);
		free(j->targets[i].net_iface);
		gd_cgroup_dirs_free(&j->targets[i].cg);
	}
	free(j->targets);
	if (j->sock >= 0)
		(void)close(j->sock);
	free(j);
}

uint64_t gd_cpu_entitlement(uint64_t shares, double per_share, uint64_t age_ns)
{
	double v = (double)shares * (per_share / 100.0) * (double)age_ns;
	/* Go's uint64(float64) of an out-of-range value is undefined; saturate instead */
	return v >= 18446744073709551615.0 ? UINT64_MAX : v > 0 ? (uint64_t)v : 0;
}

static json_t *memory_json(const uint64_t mem[GD_MEM_N])
{
	json_t *o = json_object();
	for (size_t i = 0; o && i < GD_MEM_N; i++)
		json_object_set_new(o, gd_memstat_keys[i], json_integer((json_int_t)mem[i]));
	return o;
}

json_t *gd_metrics_json(const struct gd_metrics_figures *f)
{
	const struct gd_cgroup_stats *c = &f->cg;
	json_t *net = f->have_net ? json_pack("{s:I, s:I}", "RxBytes", (json_int_t)f->rx_bytes,
					      "TxBytes", (json_int_t)f->tx_bytes)
				  : json_null();

	return json_pack(
	    "{s:o, s:{s:I, s:I, s:I}, s:{s:I, s:I, s:I, s:I}, s:o, s:{s:I, s:I}, s:I, s:I}",
	    "MemoryStat", memory_json(c->mem), "CPUStat", "Usage", (json_int_t)c->cpu_usage, "User",
	    (json_int_t)c->cpu_user, "System", (json_int_t)c->cpu_system, "DiskStat",
	    "TotalBytesUsed", (json_int_t)f->disk_total_bytes, "TotalInodesUsed",
	    (json_int_t)f->disk_total_inodes, "ExclusiveBytesUsed",
	    (json_int_t)f->disk_exclusive_bytes, "ExclusiveInodesUsed",
	    (json_int_t)f->disk_exclusive_inodes, "NetworkStat", net, "PidStat", "Current",
	    (json_int_t)c->pids_current, "Max", (json_int_t)c->pids_max, "Age",
	    (json_int_t)f->age_ns, "CPUEntitlement", (json_int_t)f->cpu_entitlement);
}

json_t *gd_metrics_zero_json(void)
{
	const struct gd_metrics_figures zero = {0};
	return gd_metrics_json(&zero);
}

int gd_net_dev_parse(const char *text, const char *iface, uint64_t *ret_rx, uint64_t *ret_tx)
{
	size_t ilen = strlen(iface);
	for (const char *line = text; line && *line;) {
		const char *nl = strchr(line, '\n');
		const char *name = line + strspn(line, " ");
		if (strncmp(name, iface, ilen) == 0 && name[ilen] == ':') {
			unsigned long long f[9];
			/* receive: bytes packets errs drop fifo frame compressed multicast; then
			 * transmit bytes */
			if (sscanf(name + ilen + 1, "%llu %llu %llu %llu %llu %llu %llu %llu %llu",
				   &f[0], &f[1], &f[2], &f[3], &f[4], &f[5], &f[6], &f[7],
				   &f[8]) != 9)
				return -EINVAL;
			*ret_rx = f[0];
			*ret_tx = f[8];
			return 0;
		}
		line = nl ? nl + 1 : NULL;
	}
	return -ENOENT;
}

/* The cgroups' figures; a container whose cgroups hold no process (its init died behind
 * guardian's back) or are gone is not running, as the runtime would say. */
static int read_cgroups(const struct gd_metrics_target *t, struct gd_cgroup_stats *ret,
			struct gdn_err **err)
{
	_cleanup_err_ struct gdn_err *e = NULL;
	int r = t->cg.memory ? gd_cgroup_stats_read(&t->cg, ret, &e) : -ESRCH;

	if (r >= 0 && !ret->populated)
		r = -ESRCH;
	if (r == -ESRCH || r == -ENOENT)
		return gdn_err_kind(err, GDN_ERR_GENERIC, ESRCH, "container '%s' is not running",
				    t->handle);
	if (r < 0 && err && !*err)
		*err = gdn_steal_ptr(&e);
	return r;
}

/* DiskStat: the image plugin's stats when one made the rootfs (Garden's inodes are then 0),
 * else the built-in volumizer's; a container without a volume uses no disk of its own. */
static int read_disk(const struct gd_config *cfg, const char *dir, const char *handle,
		     json_t *image_sizes, struct gd_metrics_figures *f, struct gdn_log *log,
		     struct gdn_err **err)
{
	_cleanup_free_ char *marker = gdn_path_join(dir, GDN_DEPOT_IMAGE_PLUGIN);
	_cleanup_free_ char *kind_name = NULL;
	struct gd_disk_stat ds = {0};
	size_t len = 0;
	int r;

	if (!marker)
		return gdn_err_set(err, ENOMEM, "disk stat");
	r = gdn_fs_read_file(marker, 64, &kind_name, &len, NULL);
	if (r >= 0) {
		enum gdn_imageplugin_kind kind =
		    strcmp(kind_name, gdn_imageplugin_name(GDN_IMAGEPLUGIN_PRIVILEGED)) == 0
			? GDN_IMAGEPLUGIN_PRIVILEGED
			: GDN_IMAGEPLUGIN_UNPRIVILEGED;
		return gd_imageplugin_stats(cfg, kind, handle, &f->disk_total_bytes,
					    &f->disk_exclusive_bytes, log, err);
	}
	_cleanup_err_ struct gdn_err *e = NULL;
	r = gd_volume_disk_stat(cfg, dir, image_sizes, &ds, &e);
	if (r == -ENOENT)
		return 0;
	if (r < 0) {
		if (err && !*err)
			*err = gdn_steal_ptr(&e);
		return r;
	}
	f->disk_total_bytes = ds.total_bytes;
	f->disk_total_inodes = ds.total_inodes;
	f->disk_exclusive_bytes = ds.exclusive_bytes;
	f->disk_exclusive_inodes = ds.exclusive_inodes;
	return 0;
}

uint64_t gd_metrics_created_ns(const struct gd_config *cfg, const char *handle)
{
	_cleanup_free_ char *dir = gd_container_dir(cfg, handle);
	_cleanup_free_ char *pidfile = dir ? gdn_path_join(dir, GDN_DEPOT_PIDFILE) : NULL;
	struct stat st;

	if (!pidfile || stat(pidfile, &st) < 0)
		return 0;
	return (uint64_t)st.st_mtim.tv_sec * 1000000000ULL + (uint64_t)st.st_mtim.tv_nsec;
}

static void read_net(const struct gd_metrics_target *t, struct gd_metrics_figures *f)
{
	char path[64];
	_cleanup_free_ char *text = NULL;
	size_t len = 0;

	snprintf(path, sizeof(path), "/proc/%d/net/dev", (int)t->init_pid);
	if (gdn_fs_read_file(path, NET_DEV_MAX, &text, &len, NULL) >= 0 &&
	    gd_net_dev_parse(text, t->net_iface, &f->rx_bytes, &f->tx_bytes) == 0)
		f->have_net = true;
}

int gd_metrics_of(const struct gd_config *cfg, const struct gd_metrics_target *t,
		  json_t *image_sizes, struct gdn_log *log, json_t **ret, struct gdn_err **err)
{
	_cleanup_free_ char *dir = gd_container_dir(cfg, t->handle);
	struct gd_metrics_figures f = {0};
	int r;

	if (!dir)
		return gdn_err_set(err, ENOMEM, "metrics");
	if ((r = read_cgroups(t, &f.cg, err)) < 0 ||
	    (r = read_disk(cfg, dir, t->handle, image_sizes, &f, log, err)) < 0)
		return r;
	uint64_t now = gdn_now_real_ns();
	f.age_ns = t->created_ns && now > t->created_ns ? now - t->created_ns : 0;
	if (t->net_iface)
		read_net(t, &f);
	f.cpu_entitlement =
	    gd_cpu_entitlement(t->cpu_shares, cfg->cpu_entitlement_per_share, f.age_ns);
	*ret = gd_metrics_json(&f);
	return *ret ? 0 : gdn_err_set(err, ENOMEM, "metrics");
}

json_t *gd_metrics_entry(const struct gd_config *cfg, const struct gd_metrics_target *t,
			 json_t *image_sizes, struct gdn_log *log)
{
	_cleanup_err_ struct gdn_err *e = NULL;
	json_t *m = NULL;

	if (t->error)
		gdn_err_kind(&e, GDN_ERR_GENERIC, ENOENT, "%s", t->error);
	else if (gd_metrics_of(cfg, t, image_sizes, log, &m, &e) >= 0)
		return json_pack("{s:o, s:n}", "Metrics", m, "Err");
	e->kind = GDN_ERR_GENERIC;
	return json_pack("{s:o, s:o}", "Metrics", gd_metrics_zero_json(), "Err",
			 gdn_err_to_garden_json(e));
}
