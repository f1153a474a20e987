/* guardian's container limit and security flags (gdn's names, internals §1.2, §14.1). */
#pragma once

#include <getopt.h>
#include "lib/err.h"
#include "cmd/guardian/config.h"

enum {
	GD_OPT_CTR_FIRST = 768,
	GD_OPT_DISABLE_SWAP_LIMIT = GD_OPT_CTR_FIRST,
	GD_OPT_CPU_QUOTA_PER_SHARE,
	GD_OPT_BLOCKIO_WEIGHT,
	GD_OPT_APPARMOR,
	GD_OPT_NO_NEW_PRIVILEGES,
	GD_OPT_DEVICE_CGROUP_RULE,
	GD_OPT_CPU_ENTITLEMENT_PER_SHARE,
	GD_OPT_NETWORK_METRICS,
	GD_OPT_CTR_LAST,
};

#define GD_CONTAINER_OPTIONS                                                                       \
	{"disable-swap-limit", no_argument, NULL, GD_OPT_DISABLE_SWAP_LIMIT},                      \
	    {"cpu-quota-per-share", required_argument, NULL, GD_OPT_CPU_QUOTA_PER_SHARE},          \
	    {"default-container-blockio-weight", required_argument, NULL, GD_OPT_BLOCKIO_WEIGHT},  \
	    {"apparmor", required_argument, NULL, GD_OPT_APPARMOR},                                \
	    {"no-new-privileges", no_argument, NULL, GD_OPT_NO_NEW_PRIVILEGES},                    \
	    {"device-cgroup-rule", required_argument, NULL, GD_OPT_DEVICE_CGROUP_RULE},            \
	    {"cpu-entitlement-per-share", required_argument, NULL,                                 \
	     GD_OPT_CPU_ENTITLEMENT_PER_SHARE},                                                    \
	{                                                                                          \
		"enable-container-network-metrics", no_argument, NULL, GD_OPT_NETWORK_METRICS      \
	}

#define GD_CONTAINER_USAGE                                                                         \
	"Container limits and security:\n"                                                         \
	"  --disable-swap-limit          let containers swap beyond their memory limit\n"          \
	"  --cpu-quota-per-share US      CPU quota (microseconds per 100 ms period) per share\n"   \
	"                                of a container's CPU limit (default 0: no quota)\n"       \
	"  --default-container-blockio-weight N  block IO weight of every container, 10-1000\n"    \
	"                                (default 0: the kernel's)\n"                              \
	"  --apparmor PROFILE            AppArmor profile of unprivileged containers' processes\n" \
	"                                (the host must have AppArmor)\n"                          \
	"  --no-new-privileges           set no_new_privs on unprivileged containers' processes\n" \
	"  --device-cgroup-rule RULE     a device privileged containers may use, as\n"             \
	"                                'c|b|a MAJOR:MINOR ACCESS' ('*' for any number;\n"        \
	"                                repeatable)\n"                                            \
	"Metrics:\n"                                                                               \
	"  --cpu-entitlement-per-share P percent of a core a CPU share entitles a container to\n"  \
	"                                (default: cores x 100 / MiB of RAM, as Garden)\n"         \
	"  --enable-container-network-metrics  NetworkStat from the interface a network\n"         \
	"                                plugin names (property garden.network.interface)\n"

/* Handles one of the GD_OPT_CTR_* options. */
int gd_container_flag(int opt, const char *v, struct gd_config *cfg, struct gdn_err **err);
/* Checks what the host must provide for the flags given (AppArmor), and fills in the default
 * CPU entitlement per share from the host's cores and RAM. */
int gd_container_flags_finish(struct gd_config *cfg, struct gdn_err **err);

/* Parses "c 10:229 rwm" (docker's and gdn's syntax); -EINVAL with a message. */
int gd_device_rule_parse(const char *s, struct gd_device_rule *ret, struct gdn_err **err);

/* Garden's default CPU entitlement per share: cores x 100 / total RAM in MiB. */
double gd_cpu_entitlement_default(long cores, uint64_t ram_bytes);
