/* guardian's configuration: the parsed command line (names follow gdn's flags). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include "lib/log.h"
#include "lib/runtime.h"

/* A --device-cgroup-rule: major and minor -1 mean any. */
struct gd_device_rule {
	char type; /* 'a', 'b' or 'c' */
	long long major, minor;
	char access[4]; /* some of "rwm" */
};

struct gd_config {
	/* listening */
	const char *bind_socket; /* NULL: no UNIX socket */
	unsigned socket_mode;	 /* default 0600 */
	const char *bind_ip;	 /* NULL: no TCP */
	uint16_t bind_port;
	/* the debug server (debug_flags.h): GET /debug/vars on TCP; NULL: none */
	const char *debug_bind_ip;
	uint16_t debug_bind_port;
	/* --read-header-timeout (gdn's flag, default 0: none): a connection that has not sent a
	 * whole request head this long after it was accepted (or after the first byte of a
	 * keep-alive request) is closed. Like Go's net/http, which gdn uses, the same limit is
	 * the idle timeout of keep-alive connections between requests. */
	uint64_t read_header_timeout_ns;
	uint64_t idle_timeout_ns;
	/* lifecycle */
	const char *depot; /* absolute; default /var/run/gdn/depot */
	const char *store; /* volumizer store (shifted rootfs cache); default /var/lib/gdn/store */
	const char *default_rootfs; /* absolute dir or NULL */
	uint64_t default_grace_ns;
	uint64_t max_containers; /* 0: unlimited */
	bool destroy_on_startup;
	bool disable_privileged;
	bool skip_setup;     /* --skip-setup: leave the host's cgroup mounts alone */
	uint64_t store_size; /* --store-size-bytes: of the store `setup` makes */
	/* --cleanup-process-dirs-on-wait: dadoo removes the process dir once it delivered the
	 * exit status (Garden's flag; Diego sets it) */
	bool cleanup_process_dirs;
	/* user namespace mapping of unprivileged containers (internals §4.2) */
	uint32_t uid_map_start, uid_map_length;
	uint32_t gid_map_start, gid_map_length;
	uint32_t maxid; /* host id of container root: 4294967294 */
	/* binaries */
	const char *runtime;		 /* --runtime-plugin, default "runc" */
	const char *runtime_root;	 /* --runtime-root, NULL: the runtime's default */
	const char **runtime_extra_args; /* --runtime-plugin-extra-arg, NULL-terminated */
	const char *init_bin;		 /* --init-bin, default: garden-init next to guardian */
	const char *dadoo_bin;		 /* --dadoo-bin, default: dadoo next to guardian */
	const char *nstar_bin;		 /* --nstar-bin, default: nstar next to guardian */
	/* --runtime-timeout: the deadline of each runtime invocation (guardian's run, delete,
	 * state; dadoo's exec); 0: GDN_RUNTIME_TIMEOUT_DEFAULT_NS */
	uint64_t runtime_timeout_ns;
	/* networking: kawasaki (spawned by guardian, or a standalone one at kawasaki_socket) or
	 * an external network plugin */
	const char *network_pool;	/* default 10.254.0.0/22 */
	const char *kawasaki_bin;	/* --kawasaki-bin, default: kawasaki next to guardian */
	const char *kawasaki_socket;	/* --kawasaki-socket: use that daemon, start none */
	const char *kawasaki_state_dir; /* --kawasaki-state-dir, default <depot>/../kawasaki */
	const char *kawasaki_listen;	/* the socket guardian's own kawasaki serves on */
	const char **deny_networks;	/* --deny-network..., NULL-terminated; default 0.0.0.0/0 */
	bool allow_host_access;
	const char **dns_servers;	      /* --dns-server... */
	const char **additional_dns_servers;  /* --additional-dns-server... */
	const char **additional_host_entries; /* --additional-host-entry... */
	const char *resolv_conf;	      /* --resolv-conf, default /etc/resolv.conf */
	const char *external_ip;	      /* --external-ip, NULL: kawasaki's default route */
	uint32_t port_pool_start, port_pool_size;
	uint32_t mtu; /* 0: the external interface's */
	const char *tag;
	const char *network_plugin;		/* --network-plugin: kawasaki is not used */
	const char **network_plugin_extra_args; /* NULL-terminated */
	uint64_t network_timeout_ns;		/* of each kawasaki request or plugin run */
	bool no_networking; /* --no-networking: an empty network namespace, no kawasaki */
	/* image plugins (imageplugin_flags.h): grootfs' contract, run through image-plugin-shim,
	 * which guardian starts unless image_plugin_shim_socket names one started separately */
	const char *image_plugin;			 /* --image-plugin */
	const char **image_plugin_extra_args;		 /* NULL-terminated */
	const char *privileged_image_plugin;		 /* --privileged-image-plugin */
	const char **privileged_image_plugin_extra_args; /* NULL-terminated */
	bool no_image_plugin;				 /* --no-image-plugin */
	const char *image_plugin_shim_bin;		 /* default: beside guardian */
	const char *image_plugin_shim_socket;		 /* --image-plugin-shim-socket */
	const char *image_plugin_shim_listen;		 /* the socket guardian's own serves on */
	uint64_t image_plugin_timeout_ns;		 /* of each plugin run */
	/* whether creates go to a plugin (non-raw rootfs), and which plugins there are: known
	 * from the flags, or from the external shim's ping at start-up */
	bool image_plugins_used;
	bool image_plugin_have[2];	/* by enum gdn_imageplugin_kind */
	uint64_t image_plugin_capacity; /* the unprivileged plugin's capacity; 0: unknown */
	/* container limits and security (container_flags.c) */
	bool disable_swap_limit;
	uint64_t cpu_quota_per_share; /* microseconds per period per share; 0: no quota */
	uint16_t blockio_weight;      /* 0: unset */
	const char *apparmor_profile; /* NULL: none */
	bool no_new_privileges;
	const struct gd_device_rule *device_rules; /* --device-cgroup-rule..., for privileged */
	size_t n_device_rules;
	/* metrics (container_flags.c) */
	double cpu_entitlement_per_share; /* percent of a core per share; set at start-up */
	bool network_metrics;		  /* --enable-container-network-metrics */
	/* logging */
	enum gdn_log_level log_level;
	/* host facts read at start-up */
	uint64_t cap_bounding; /* CapBnd of guardian: privileged caps = full set & this */
};
