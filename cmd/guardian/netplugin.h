/* The external network plugin contract (internals §12): `<plugin> <extra args...> --action
 * <action> --handle <handle>`, JSON on stdin, JSON (or nothing) on stdout, stderr re-logged.
 * Blocking: guardian calls these from its worker processes. */
#pragma once

#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>
#include "lib/err.h"
#include "lib/log.h"

struct gd_netplugin {
	const char *path;	 /* --network-plugin */
	const char **extra_args; /* --network-plugin-extra-arg..., NULL-terminated (may be NULL) */
	uint64_t timeout_ns;	 /* per invocation; 0: none */
};

/* `up`: stdin UpInputs {"Pid":pid,"Properties":{...},"netout_rules":[...],"netin":[...]}
 * (Properties: the container's properties whose key starts with "network." with the prefix
 * removed, plus "log_config" verbatim, "{}" if none; netout_rules / netin omitted when NULL or
 * empty). *ret_out gets the decoded UpOutputs normalised to
 * {"properties":{...},"dns_servers":[...],"search_domains":[...]} (members absent when the
 * plugin gave none; keys matched case-insensitively as Go does). Errors: "external networker
 * encountered an error running 'up' action: exit status N", "unmarshaling result from external
 * networker: ...". */
int gd_netplugin_up(const struct gd_netplugin *p, const char *handle, pid_t pid,
		    const json_t *props, const json_t *netin, const json_t *netout,
		    json_t **ret_out, struct gdn_log *log, struct gdn_err **err);
/* `down`: stdin `null`, stdout ignored. */
int gd_netplugin_down(const struct gd_netplugin *p, const char *handle, struct gdn_log *log,
		      struct gdn_err **err);
/* `net-in`: stdin {"HostIP":external_ip,"HostPort":h,"ContainerIP":container_ip,
 * "ContainerPort":c}, stdout {"host_port":H,"container_port":C}. */
int gd_netplugin_net_in(const struct gd_netplugin *p, const char *handle, const char *external_ip,
			const char *container_ip, uint32_t host_port, uint32_t container_port,
			uint32_t *ret_host_port, uint32_t *ret_container_port, struct gdn_log *log,
			struct gdn_err **err);
/* `net-out`: stdin {"container_ip":ip,"netout_rule":rule}; `bulk-net-out`:
 * {"container_ip":ip,"netout_rules":[...]}; stdout ignored. */
int gd_netplugin_net_out(const struct gd_netplugin *p, const char *handle, const char *container_ip,
			 const json_t *rule, struct gdn_log *log, struct gdn_err **err);
int gd_netplugin_bulk_net_out(const struct gd_netplugin *p, const char *handle,
			      const char *container_ip, const json_t *rules, struct gdn_log *log,
			      struct gdn_err **err);
