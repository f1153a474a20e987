/* OOM events without a watcher process. Garden runs `runc events` per container, started at
 * create and never again, so a guardian restart loses the events of every older container.
 * The kernel already counts the OOM kills of each memory cgroup, for as long as the cgroup
 * lives: guardian reads that counter when it is asked for a container's events (Info,
 * BulkInfo) and when it restores the container at start-up, and records the kills since the
 * count it last saved (events.h) as events. */
#pragma once

#include "lib/log.h"
#include "cmd/guardian/config.h"
#include "cmd/guardian/registry.h"

/* Brings c's events up to date with the kernel's OOM-kill counter: one small file read (the
 * file's path is looked up from the init's pid the first time). New kills are appended to
 * rundmc.events and saved with the new count (gd_ctr_save). Returns how many events it
 * appended; a container that is not ACTIVE, whose init is gone before its cgroup was found, or
 * whose cgroup is gone keeps the events it has. Failures are logged, never returned: events are
 * best-effort and must not fail an Info. */
int gd_oom_update(const struct gd_config *cfg, struct gd_ctr *c, struct gdn_log *log);
