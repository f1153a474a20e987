/* struct ipt_entry blobs for a kw_rule, laid out byte for byte as iptables-legacy 1.8.9 lays out
 * the equivalent command line (the match and target revisions it picks on kernels >= 4.19:
 * conntrack 3, iprange 1, comment/tcp/udp/icmp 0, REJECT 0, LOG 0, MASQUERADE 0, DNAT 2), and what
 * kawasaki reads back from the entries of a table: equality, the comment, iptables-save text.
 * Private to cmd/kawasaki/ipt*.c. */
#pragma once

#include <stdbool.h>
#include <libiptc/libiptc.h>
#include "lib/buf.h"
#include "lib/err.h"
#include "cmd/kawasaki/ipt.h"

/* Builds r's entry (malloc'd, free with free()). Its standard target holds the label ("ACCEPT",
 * "RETURN", a chain name), which libiptc turns into a verdict. Refuses, with iptables' words, what
 * iptables would refuse: an interface name of 16 characters or more, a log prefix over 29, a port
 * without -p tcp/udp, a chain name over 28. A comment over 255 characters is cut, as iptables
 * cuts it. */
int kw_ipt_entry_build(const struct kw_rule *r, struct ipt_entry **ret, struct gdn_err **err);

/* The name iptables gives r's target: "ACCEPT", "DROP", "RETURN", the chain, "REJECT", ... */
const char *kw_ipt_rule_target(const struct kw_rule *r);
/* Whether r's target is a module (REJECT, LOG, MASQUERADE, DNAT) rather than a verdict or chain. */
bool kw_ipt_rule_target_is_module(const struct kw_rule *r);

/* What kawasaki needs to know of a table entry besides its bytes: the name iptc gives its target
 * (iptc_get_target) and whether that target is a module. */
struct kw_ipt_entry_target {
	const char *label;
	bool module;
};

/* Whether table entry e is the entry `want` built by kw_ipt_entry_build for rule r (iptables -C):
 * the same addresses, masks, interfaces (the bytes their masks cover), protocol, flags, the same
 * matches in the same order with the same data, and the same target (verdict or chain by name,
 * a module by name, revision and data). */
bool kw_ipt_entry_same(const struct ipt_entry *want, const struct kw_rule *r,
		       const struct ipt_entry *e, const struct kw_ipt_entry_target *et);

/* The comment of the entry's first comment match (cut at 255 characters), or NULL. */
const char *kw_ipt_entry_comment(const struct ipt_entry *e, char buf[256]);

/* Appends what iptables-save prints after "-A <chain>" (" -s ... -j ..."), without a newline. */
int kw_ipt_entry_format(const struct ipt_entry *e, const struct kw_ipt_entry_target *et,
			struct gdn_buf *out);
