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
 * IPs as net.ParseIP reads them) for a container. Each rule gets comment `handle` and target
 * RETURN, or GOTO log_chain when "log" is true. Errors as Garden's kawasaki gives them:
 * "Ports cannot be specified for Protocol ALL" / "... ICMP", "invalid protocol: 4", ...
 * Appends to *out (which starts zeroed; free with kw_netout_free). */
int kw_netout_translate(const json_t *rule, const char *handle, const char *log_chain,
			struct kw_netout *out, struct gdn_err **err);
void kw_netout_free(struct kw_netout *out);
