/* A container's events (Info's Events) and the OOM-kill count they are recorded from: plain data
 * on the properties, no I/O (oom.h reads the kernel's counter).
 *
 * As in Garden (rundmc/store.go), the events are the property rundmc.events, the events joined
 * with ","; Info splits it again, one array entry per event, and an OOM adds one
 * "Out of memory" each time. guardian also keeps the kernel's OOM-kill count it last recorded,
 * in properties.json (so it is written in the same atomic write as the events it explains)
 * under GD_PROP_OOM_KILLS, which is taken out of the properties when they are loaded: Info
 * never shows it and clients can neither set nor remove it. */
#pragma once

#include <stdint.h>
#include <jansson.h>

#define GD_PROP_EVENTS "rundmc.events"
#define GD_PROP_OOM_KILLS "garden-c.oom-kills"
#define GD_EVENT_OOM "Out of memory"
/* Garden's list grows without bound; ours stops at this many entries so that a container that
 * OOMs in a loop cannot grow properties.json past what start-up reads (1 MiB). */
#define GD_EVENTS_MAX 100

/* The count on the "oom_kill N" line of cgroup v1's memory.oom_control or v2's memory.events
 * (both are "key value" lines). -ENOENT if there is no such line (kernels before 4.13),
 * -EINVAL if its value is not a number. */
int gd_events_parse_oom_kill(const char *text, uint64_t *ret);

/* How many OOM kills happened since `recorded` if the kernel now counts `now`. A count below
 * the recorded one is a new cgroup whose counter started again at 0. */
uint64_t gd_events_new_kills(uint64_t recorded, uint64_t now);

/* Appends `event` n times to props' rundmc.events (while it has fewer than GD_EVENTS_MAX).
 * Returns how many it appended, or -ENOMEM. */
int gd_events_append(json_t *props, const char *event, uint64_t n);

/* Info's Events: rundmc.events split at ",", or JSON null when the property is absent. */
json_t *gd_events_to_json(json_t *props);

/* Removes GD_PROP_OOM_KILLS from props and returns its value (0 if absent or invalid). */
uint64_t gd_events_take_oom_kills(json_t *props);
/* Sets GD_PROP_OOM_KILLS (as a decimal string; none when n is 0). 0 or -ENOMEM. */
int gd_events_put_oom_kills(json_t *props, uint64_t n);
