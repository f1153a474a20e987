/* kawasaki: the built-in networker (kawasaki(8), internals §11). One daemon per host and tag:
 * it owns the subnet and port pools, the per-container links and iptables chains, and a state
 * directory that records every allocation before the kernel is touched, so that a crash at any
 * point neither loses nor double-assigns a subnet, an IP or a port. */
#pragma once

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include "lib/err.h"
#include "lib/log.h"
#include "lib/loop.h"
#include "lib/net.h"
#include "cmd/kawasaki/ipt.h"
#include "cmd/kawasaki/links.h"
#include "cmd/kawasaki/netout.h"
#include "cmd/kawasaki/pool.h"

#define KW_PROTOCOL_VERSION 1
#define KW_DEFAULT_SOCKET "/var/run/gdn/kawasaki/kawasaki.sock"
#define KW_DEFAULT_STATE_DIR "/var/run/gdn/kawasaki"
#define KW_IPT_LOCK_TIMEOUT_MS 10000
#define KW_MAX_MTU 1500
#define KW_INSTANCE_ID_LEN 11
#define KW_MAX_PORTS 1024 /* NetIn mappings of one container */
#define KW_MAX_NAMES 64	  /* --deny-network, --dns-server entries */

struct kw_config {
	const char *socket;
	unsigned socket_mode;
	const char *state_dir;
	struct gdn_cidr pool;
	uint16_t port_start;
	uint32_t port_size;
	struct gdn_cidr deny[KW_MAX_NAMES];
	size_t n_deny;
	uint32_t dns[KW_MAX_NAMES]; /* --dns-server: accepted in w--input by every BulkNetOut */
	size_t n_dns;
	bool allow_host_access;
	uint32_t external_ip; /* 0: the default route's source address */
	unsigned mtu;	      /* 0: the MTU of the interface holding the external IP */
	char tag[2];	      /* "" or one character */
	enum gdn_log_level log_level;
};

/* The names of one table's global chains and the per-container ones. */
struct kw_names {
	char input[24], forward[24], dflt[24], prerouting[24], postrouting[24];
	char instance_prefix[16]; /* w-<tag>-instance- */
	char if_prefix[4];	  /* w<tag> */
};

struct kw_port {
	uint16_t host, container;
	bool pooled; /* taken from the port pool: released into it on down */
};

/* One container's network, as persisted in <state-dir>/containers/<handle>.json. */
struct kw_alloc {
	char *handle;
	char id[KW_INSTANCE_ID_LEN + 1];
	struct gdn_cidr subnet;
	uint32_t ip;
	char bridge[IF_NAMESIZE], host_if[IF_NAMESIZE], container_if[IF_NAMESIZE];
	unsigned mtu;
	char *masq;	     /* comment of the subnet's MASQUERADE rule (the handle that made it) */
	bool awaiting_links; /* prepared by this process; its up has not made the links yet */
	struct kw_port *ports;
	size_t n_ports;
	struct kw_alloc *next;
};

struct kw_daemon {
	const struct kw_config *cfg;
	struct gdn_log *log;
	struct gdn_loop loop;
	struct gdn_watch listener;
	struct kw_names names;
	struct kw_pool *pool;
	struct kw_nl *nl;
	struct kw_alloc *allocs;
	size_t n_allocs;
	uint32_t external_ip;
	unsigned mtu;
	char default_if[IF_NAMESIZE];
	uint64_t next_id; /* 55-bit instance-id counter, seeded from the clock */
	int lock_fd;	  /* flock of the state dir: one daemon per state dir */
};

/* names.c */
void kw_names_init(struct kw_names *n, const char *tag);
void kw_alloc_names(const struct kw_names *n, struct kw_alloc *a, const char *id);
void kw_instance_chain(const struct kw_names *n, const char *id, char out[32]);
void kw_log_chain(const struct kw_names *n, const char *id, char out[32]);
void kw_instance_id(uint64_t counter, char out[KW_INSTANCE_ID_LEN + 1]);
/* Names gathered from a walk (chains, links) that may not change what it walks. */
struct kw_name_list {
	char (*names)[32];
	size_t n, cap;
	bool oom; /* a name could not be kept: the caller must fail */
};
void kw_name_list_add(struct kw_name_list *l, const char *name);
void kw_name_list_free(struct kw_name_list *l);
/* A host veth (w<tag><11-char id>-0) or bridge (w<tag>brdg-<8 hex>) of this tag's naming. */
bool kw_link_is_ours(const struct kw_names *n, const char *name, bool *is_bridge);

/* store.c: <state-dir>/containers/<handle>.json and <state-dir>/ports.json */
int kw_store_open(struct kw_daemon *d, struct gdn_err **err);
int kw_store_save(struct kw_daemon *d, const struct kw_alloc *a, struct gdn_err **err);
int kw_store_remove(struct kw_daemon *d, const char *handle, struct gdn_err **err);
int kw_store_save_cursor(struct kw_daemon *d, struct gdn_err **err);
json_t *kw_alloc_to_json(const struct kw_alloc *a);
void kw_alloc_free(struct kw_alloc *a);
struct kw_alloc *kw_alloc_find(struct kw_daemon *d, const char *handle);
void kw_alloc_unlink(struct kw_daemon *d, struct kw_alloc *a);

/* setup.c: the global chains (internals §11.6) */
int kw_setup_host(struct kw_daemon *d, struct gdn_err **err);
/* `kawasaki teardown`: every chain, hook and link of the tag's naming (no daemon running). */
int kw_teardown_host(const struct kw_names *n, struct kw_nl *nl, struct gdn_err **err);

/* rules.c: a container's chains */
int kw_rules_create(struct kw_daemon *d, const struct kw_alloc *a, const struct kw_netout *out,
		    struct gdn_err **err);
int kw_rules_destroy(struct kw_daemon *d, const struct kw_alloc *a, bool last_of_subnet,
		     struct gdn_err **err);
int kw_rules_net_in(struct kw_daemon *d, const struct kw_alloc *a, const struct kw_port *p,
		    struct gdn_err **err);
int kw_rules_net_out(struct kw_daemon *d, const struct kw_alloc *a, const struct kw_netout *out,
		     bool dns, struct gdn_err **err);
void kw_dnat_rule(const struct kw_daemon *d, const struct kw_alloc *a, const struct kw_port *p,
		  struct kw_rule *r);
int kw_rules_format(struct kw_daemon *d, const struct kw_alloc *a, json_t *out,
		    struct gdn_err **err);
int kw_rules_orphans(struct kw_daemon *d, json_t *removed, struct gdn_err **err);

/* ops.c: the requests */
int kw_op_up(struct kw_daemon *d, const json_t *req, int netns_fd, json_t *reply,
	     struct gdn_err **err);
int kw_op_prepare(struct kw_daemon *d, const json_t *req, json_t *reply, struct gdn_err **err);
int kw_op_down(struct kw_daemon *d, const json_t *req, json_t *reply, struct gdn_err **err);
int kw_op_net_in(struct kw_daemon *d, const json_t *req, json_t *reply, struct gdn_err **err);
int kw_op_net_out(struct kw_daemon *d, const json_t *req, json_t *reply, struct gdn_err **err);
int kw_op_bulk_net_out(struct kw_daemon *d, const json_t *req, json_t *reply, struct gdn_err **err);
int kw_op_list(struct kw_daemon *d, const json_t *req, json_t *reply, struct gdn_err **err);
int kw_op_rules(struct kw_daemon *d, const json_t *req, json_t *reply, struct gdn_err **err);
int kw_op_cleanup(struct kw_daemon *d, const json_t *req, json_t *reply, struct gdn_err **err);
int kw_op_capacity(struct kw_daemon *d, const json_t *req, json_t *reply, struct gdn_err **err);
/* The properties Garden's kawasaki sets on a container (internals §3). */
json_t *kw_alloc_properties(const struct kw_daemon *d, const struct kw_alloc *a);
char *kw_mapped_ports_json(const struct kw_alloc *a);

/* server.c */
int kw_serve(const struct kw_config *cfg, struct gdn_err **err);
/* `kawasaki setup`: what serve does to the host before it serves (the global chains rebuilt from
 * the flags, IPv4 forwarding), then nothing more: for a host prepared before the daemon runs
 * (guardian setup, a BOSH pre-start). */
int kw_setup_only(const struct kw_config *cfg, struct gdn_err **err);
