/* A container's network, through kawasaki or an external network plugin (internals §11-12).
 * Blocking: called from worker processes (create, destroy, NetIn, NetOut, BulkNetOut). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>
#include "lib/err.h"
#include "lib/log.h"
#include "cmd/guardian/config.h"

/* What a ContainerSpec asks of the network. */
struct gd_net_spec {
	char *network;	/* ContainerSpec.network, "" for a dynamic subnet */
	json_t *netin;	/* [{"host_port","container_port"}], or NULL */
	json_t *netout; /* [NetOutRule...] as the client sent them, or NULL */
};

/* A kawasaki prepare that was sent and is not answered yet (sock -1: none). */
struct gd_net_pending {
	int sock;
};

/* With kawasaki: sends the prepare of the container's network (its allocation and rules,
 * which need no namespace) and returns without waiting, so kawasaki commits the tables while
 * the runtime creates the container. Nothing with a plugin or without networking. */
int gd_network_prepare(const struct gd_config *cfg, const char *handle,
		       const struct gd_net_spec *ns, struct gd_net_pending *p,
		       struct gdn_err **err);

/* Waits for an unanswered prepare's reply, whatever it is, and closes its socket (a create
 * that fails before gd_network_up: its undo's down then comes after the prepare). */
void gd_net_pending_settle(struct gd_net_pending *p);

/* Sets up the network of the container whose init is pid, applies the spec's NetIn and NetOut
 * (before create returns, as Garden does), and rewrites <dir>/hosts and <dir>/resolv.conf.
 * props: the container's properties (the plugin gets its network.* ones). *ret_props gets
 * the properties to store (garden.network.*, kawasaki.*, or what the plugin returned). */
int gd_network_up(const struct gd_config *cfg, const char *dir, const char *handle, pid_t pid,
		  const json_t *props, const struct gd_net_spec *ns, struct gd_net_pending *p,
		  json_t **ret_props, struct gdn_log *log, struct gdn_err **err);

/* Removes everything of the container's network (a container that has none: success). */
int gd_network_down(const struct gd_config *cfg, const char *handle, struct gdn_log *log,
		    struct gdn_err **err);

/* NetIn: *ret_props gets the updated garden.network.mapped-ports. */
int gd_network_net_in(const struct gd_config *cfg, const char *handle, const json_t *props,
		      uint32_t host_port, uint32_t container_port, uint32_t *ret_host,
		      uint32_t *ret_container, json_t **ret_props, struct gdn_log *log,
		      struct gdn_err **err);

/* NetOut (rules: one NetOutRule object) or BulkNetOut (rules: an array). */
int gd_network_net_out(const struct gd_config *cfg, const char *handle, const json_t *props,
		       const json_t *rules, bool bulk, struct gdn_log *log, struct gdn_err **err);

/* spec.c */
void gd_net_spec_free(struct gd_net_spec *ns);

/* Capacity's network limit: the pool's /30s with kawasaki, unbounded with a plugin. */
uint64_t gd_network_capacity(const struct gd_config *cfg);
