/* The kawasaki guardian runs (unless --kawasaki-socket names a standalone one, or a network
 * plugin is used), as a daemon of daemon.h: restarted a second after it dies, told to stop when
 * guardian dies. Its state dir outlives both, so neither restart loses an allocation. */
#pragma once

#include <stdbool.h>
#include "lib/err.h"

struct gd_server;

/* Starts it and waits (at most 10 s) until it answers on its socket. */
int gd_kawasaki_start(struct gd_server *s, struct gdn_err **err);
/* SIGTERM and reap (guardian's graceful shutdown). */
void gd_kawasaki_stop(struct gd_server *s);
/* At start-up, after the depot was restored: kawasaki drops the networks of containers that
 * are gone, and chains and links that belong to no container. */
void gd_network_cleanup(struct gd_server *s);
/* `kawasaki setup` with the flags guardian gives `kawasaki serve` (guardian setup): kawasaki's
 * global chains and forwarding; its log lines are logged again under `log`. */
struct gd_config;
struct gdn_log;
int gd_kawasaki_setup(const struct gd_config *cfg, struct gdn_log *log, struct gdn_err **err);
/* Whether guardian networks containers through kawasaki (not a plugin). */
bool gd_kawasaki_used(const struct gd_server *s);
