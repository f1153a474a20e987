/* kawasaki's allocations (internals §11.1, §11.8): container subnets and IPs from the dynamic
 * pool (--network-pool, one /30 per container) or as requested in ContainerSpec.Network, and host
 * ports for NetIn from the port pool. In memory only: the daemon persists each container's
 * allocation itself and replays it (kw_pool_mark_*) at start-up. Messages are Garden's. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include "lib/err.h"
#include "lib/net.h"

struct kw_pool;

/* pool: the dynamic range (prefix <= 30); ports [port_start, port_start + port_size). */
int kw_pool_new(const struct gdn_cidr *pool, uint16_t port_start, uint32_t port_size,
		struct kw_pool **ret, struct gdn_err **err);
void kw_pool_free(struct kw_pool *p);

/* Number of /30s of the dynamic range: Capacity's max_containers. */
uint64_t kw_pool_capacity(const struct kw_pool *p);

/* Allocates a subnet and an IP for a ContainerSpec.Network value (internals §11.1):
 *   ""          the first free /30 of the dynamic range, IP .2 of it;
 *   "a.b.c.d"   as "a.b.c.d/30";
 *   "net/n"     a static subnet: must not overlap the dynamic range, may equal (not overlap)
 *               another static subnet in use; address part == network: the first free IP,
 *               else exactly that IP (not the network, gateway or broadcast, not in use).
 * Garden's messages: "insufficient subnets remaining in the pool", "insufficient IPs remaining
 * in the pool", "the requested IP is already allocated", "a container IP must not equal the
 * gateway IP", "the requested subnet (S) overlaps the dynamic allocation range (P)", "invalid
 * CIDR address: X", ... Nothing is allocated on error. */
int kw_pool_acquire(struct kw_pool *p, const char *network, struct gdn_cidr *ret_subnet,
		    uint32_t *ret_ip, struct gdn_err **err);
/* Releases the IP (and the subnet with its last IP). Unknown: no-op. */
void kw_pool_release(struct kw_pool *p, const struct gdn_cidr *subnet, uint32_t ip);
/* Re-marks an allocation read back at start-up; -EEXIST if the IP is already taken. */
int kw_pool_mark(struct kw_pool *p, const struct gdn_cidr *subnet, uint32_t ip,
		 struct gdn_err **err);
/* How many IPs of this subnet are allocated (0: the bridge may go). */
unsigned kw_pool_subnet_users(const struct kw_pool *p, const struct gdn_cidr *subnet);

/* Host ports. acquire: the next free port of the pool after the last one handed out (a rotating
 * cursor, so a port just released is the last to be reused, as Garden's FIFO pool does);
 * "port pool is exhausted" when none is free. */
int kw_pool_port_acquire(struct kw_pool *p, uint16_t *ret_port, struct gdn_err **err);
/* An explicit host port: if it is inside the pool it must be free ("port N is already
 * allocated"), and is then taken; outside the pool it is not tracked (0). */
int kw_pool_port_take(struct kw_pool *p, uint16_t port, struct gdn_err **err);
void kw_pool_port_release(struct kw_pool *p, uint16_t port); /* outside/unused: no-op */
/* The rotation cursor, persisted by the daemon so a restart does not hand out the ports
 * just released first. */
uint16_t kw_pool_port_cursor(const struct kw_pool *p);
void kw_pool_port_set_cursor(struct kw_pool *p, uint16_t cursor);
