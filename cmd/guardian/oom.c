#include <inttypes.h>
#include <stdio.h>

#include "lib/fs.h"
#include "cmd/guardian/cgroup.h"
#include "cmd/guardian/events.h"
#include "cmd/guardian/oom.h"

/* memory.oom_control is 3 lines, memory.events 6 */
#define OOM_FILE_MAX 4096

static void look_up(struct gd_ctr *c, struct gdn_log *log)
{
	_cleanup_err_ struct gdn_err *e = NULL;

	c->oom_looked_up = true;
	if (gd_cgroup_oom_file(c->init_pid, c->handle, &c->oom_file, &e) < 0)
		gdn_log_info(log, "oom.no-counter", "handle", c->handle, "error", gdn_err_str(e),
			     NULL);
}

int gd_oom_update(const struct gd_config *cfg, struct gd_ctr *c, struct gdn_log *log)
{
	_cleanup_err_ struct gdn_err *e = NULL;
	_cleanup_free_ char *text = NULL;
	uint64_t now = 0, kills;
	size_t len = 0;
	int added;
	char n[24];

	/* a destroy worker may be removing the depot dir that gd_ctr_save would write into */
	if (c->state != GD_CTR_ACTIVE)
		return 0;
	/* init_pid is 0 until gd_ctr_load succeeds, which a later Run may retry */
	if (!c->oom_looked_up && c->init_pid > 0)
		look_up(c, log);
	if (!c->oom_file)
		return 0;
	/* A cgroup removed since (by a runtime, or by hand) reads as missing: the recorded
	 * events stay. */
	if (gdn_fs_read_file(c->oom_file, OOM_FILE_MAX, &text, &len, NULL) < 0)
		return 0;
	if (gd_events_parse_oom_kill(text, &now) < 0) {
		gdn_log_info(log, "oom.no-counter", "handle", c->handle, "file", c->oom_file,
			     "error", "no oom_kill line (kernel older than 4.13?)", NULL);
		free(c->oom_file);
		c->oom_file = NULL;
		return 0;
	}
	if (now == c->oom_kills)
		return 0;
	kills = gd_events_new_kills(c->oom_kills, now);
	added = gd_events_append(c->props, GD_EVENT_OOM, kills);
	if (added < 0) {
		gdn_log_info(log, "oom.record-failed", "handle", c->handle, "error",
			     "out of memory", NULL);
		return 0;
	}
	c->oom_kills = now;
	(void)snprintf(n, sizeof(n), "%" PRIu64, kills);
	gdn_log_info(log, "oom.recorded", "handle", c->handle, "kills", n, NULL);
	/* Unsaved, the in-memory events and count still agree: the next save writes both, and
	 * a restart before it finds the same kills again. */
	if (gd_ctr_save(cfg, c, &e) < 0)
		gdn_log_error(log, "oom.save-failed", e, "handle", c->handle, NULL);
	return added;
}
