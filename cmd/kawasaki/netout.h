/* Garden's NetOutRule (protocol §9.4) as kawasaki turns it into iptables rules (internals
 * §11.8): validation with Garden's messages, then one kw_rule per (network range x port range)
 * combination, at least one. */
#pragma once

#include <stddef.h>
#include <jansson.h>
#include "lib/err.h"
#include "cmd/kawasaki/ipt.h"

/* One rule's rules. rules[] borrow strings from the call's arguments (chain names, comment). */
struct kw_netout {
	struct kw_rule *rules;
	size_t n;
};

/* Translates one NetOutRule JSON object (as the Go client encodes it, decoded as Go would:
 * numbers, bools and strings of the wrong type are Go's "json: cannot unmarshal ..." errors;
 * IPs as net.ParseIP reads them, "invalid IP address: <s>") for a container. Each rule gets
 * comment `handle` and target RETURN, or GOTO log_chain when "log" is true. Errors as Garden's
 * kawasaki gives them: "Ports cannot be specified for Protocol ALL" / "... ICMP", "invalid
 * protocol: 4" (all -EINVAL). Flags guardian would pass that iptables itself refuses (an IPv6
 * network, --icmp-type without protocol ICMP, a TCP port range whose start is above its end)
 * fail with -EDOM and iptables' own words without its program prefix, e.g. "host/network
 * `2001:db8::1' not found": guardian's NetOut says "iptables: prepend-rule: iptables v1.8.9
 * (legacy): <that>\nTry `iptables -h' or 'iptables --help' for more information.\n", its
 * BulkNetOut "iptables: bulk-prepend-rules: iptables-restore v1.8.9 (legacy): <that>\nError
 * occurred at line: <n>\nTry `iptables-restore -h' or 'iptables-restore --help' for more
 * information.\n" (n: the failing rule's line, the first being 2). Nothing is appended then.
 * Appends to *out (which starts zeroed; free with kw_netout_free). */
int kw_netout_translate(const json_t *rule, const char *handle, const char *log_chain,
			struct kw_netout *out, struct gdn_err **err);
void kw_netout_free(struct kw_netout *out);

/* Only the decoding (its errors are kw_netout_translate's json and IP errors): guardian decodes a
 * BulkNetOut's whole array before it translates any rule, so a decoding error in a later rule
 * wins over a translation error in an earlier one. 0 or -EINVAL. */
int kw_netout_decode_check(const json_t *rule, struct gdn_err **err);
