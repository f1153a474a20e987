/* kawasaki's iptables layer on libiptc (the legacy tables, as iptables-legacy sees them).
 *
 * A request opens each table it changes once (kw_ipt_begin: the host-wide xtables lock, then
 * iptc_init), makes all its changes in memory and commits once (kw_ipt_commit), so a request
 * costs one table replace per table, never one per rule. Rules are described by struct kw_rule,
 * which holds exactly the matches and targets kawasaki writes (internals §11.5-11.8); entries are
 * laid out as iptables-legacy 1.8.9 lays them out, so `iptables-legacy-save` prints them as the
 * real guardian's iptables invocations would. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lib/buf.h"
#include "lib/err.h"

enum kw_target {
	KW_T_ACCEPT,
	KW_T_DROP,
	KW_T_RETURN,
	KW_T_REJECT,	 /* --reject-with reject_with (default icmp-port-unreachable) */
	KW_T_JUMP,	 /* -j chain */
	KW_T_GOTO,	 /* -g chain */
	KW_T_LOG,	 /* -j LOG --log-prefix log_prefix */
	KW_T_MASQUERADE, /* nat */
	KW_T_DNAT,	 /* nat: --to-destination dnat_ip:dnat_port */
};

enum kw_reject_with {
	KW_REJECT_PORT_UNREACHABLE = 0, /* iptables' default */
	KW_REJECT_HOST_PROHIBITED,	/* icmp-host-prohibited */
};

/* conntrack states (-m conntrack --ctstate ...) */
#define KW_CT_NEW (1u << 0)
#define KW_CT_ESTABLISHED (1u << 1)
#define KW_CT_RELATED (1u << 2)
#define KW_CT_UNTRACKED (1u << 3)
#define KW_CT_INVALID (1u << 4)

/* One rule. Addresses are host order. A zero mask means "any" (no -s / -d). Strings are
 * borrowed for the duration of the call. */
struct kw_rule {
	uint32_t src, src_mask;
	bool src_neg;
	uint32_t dst, dst_mask;
	bool dst_neg;
	const char *in_if;  /* -i, NULL: any; a trailing '+' is a prefix wildcard ("w+") */
	const char *out_if; /* -o, likewise */
	uint8_t proto;	    /* -p: 0 all, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP */
	/* -m iprange --dst-range lo-hi */
	bool dst_range;
	uint32_t dst_range_lo, dst_range_hi;
	/* tcp/udp: --destination-port lo[:hi] (lo == hi: one port) */
	bool dport;
	uint16_t dport_lo, dport_hi;
	/* icmp: --icmp-type type[/code]; any_code: no code given */
	bool icmp;
	uint8_t icmp_type, icmp_code;
	bool icmp_any_code;
	unsigned ctstate;    /* KW_CT_* bits, 0: no conntrack match */
	const char *comment; /* -m comment --comment, NULL: none */
	enum kw_target target;
	const char *chain;	/* KW_T_JUMP / KW_T_GOTO */
	const char *log_prefix; /* KW_T_LOG */
	enum kw_reject_with reject_with;
	uint32_t dnat_ip; /* KW_T_DNAT */
	uint16_t dnat_port;
};

/* An open table: the xtables lock is held and an iptc handle holds the table's snapshot. */
struct kw_ipt;

/* Takes the host-wide xtables lock (/run/xtables.lock, flock, waiting at most timeout_ms; the
 * same lock iptables -w uses) and reads `table` ("filter", "nat"). */
int kw_ipt_begin(const char *table, int timeout_ms, struct kw_ipt **ret, struct gdn_err **err);
/* Commits the changes (one replace of the whole table), frees the handle, releases the lock. A
 * table with no changes is not written. */
int kw_ipt_commit(struct kw_ipt *t, struct gdn_err **err);
/* Frees without committing and releases the lock; NULL-safe. */
void kw_ipt_abort(struct kw_ipt *t);

bool kw_ipt_chain_exists(struct kw_ipt *t, const char *chain);
/* Creates a user chain (exists already: 0). */
int kw_ipt_chain_create(struct kw_ipt *t, const char *chain, struct gdn_err **err);
/* Removes every rule of the chain (missing chain: 0). */
int kw_ipt_chain_flush(struct kw_ipt *t, const char *chain, struct gdn_err **err);
/* Flushes and deletes a user chain (missing: 0). It must no longer be referenced. */
int kw_ipt_chain_delete(struct kw_ipt *t, const char *chain, struct gdn_err **err);

/* Appends (-A) / inserts at 0-based position pos (-I chain pos+1; pos past the end appends). */
int kw_ipt_append(struct kw_ipt *t, const char *chain, const struct kw_rule *r,
		  struct gdn_err **err);
int kw_ipt_insert(struct kw_ipt *t, const char *chain, unsigned pos, const struct kw_rule *r,
		  struct gdn_err **err);
/* Whether the chain holds a rule equal to r (iptables -C). */
bool kw_ipt_has_rule(struct kw_ipt *t, const char *chain, const struct kw_rule *r);

/* Deletes every rule of `chain` whose jump/goto target is the chain `target`; returns how many
 * (missing chain: 0). */
int kw_ipt_delete_jumps(struct kw_ipt *t, const char *chain, const char *target,
			struct gdn_err **err);
/* Deletes every rule of `chain` whose comment is exactly `comment` and whose target is
 * `target` (e.g. the MASQUERADE rules of a handle); returns how many. */
int kw_ipt_delete_commented(struct kw_ipt *t, const char *chain, const char *comment,
			    enum kw_target target, struct gdn_err **err);

/* Calls fn for every user chain whose name starts with prefix (in the table's order); fn may
 * not change the table. */
void kw_ipt_chains(struct kw_ipt *t, const char *prefix, void (*fn)(const char *chain, void *arg),
		   void *arg);

/* Appends the chain's rules to out as iptables-save prints them ("-A <chain> ...\n" each),
 * for kawasaki's `rules` subcommand and the tests. Matches and targets kawasaki does not write
 * are printed as "-m <name>" / "-j <name>". Missing chain: nothing. */
int kw_ipt_format_chain(struct kw_ipt *t, const char *chain, struct gdn_buf *out,
			struct gdn_err **err);
