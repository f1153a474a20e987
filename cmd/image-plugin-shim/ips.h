/* image-plugin-shim (image-plugin-shim(8)): runs guardian's image plugins (grootfs' CLI
 * contract, internals §10) in the host's mount namespace, for a guardian whose own namespace
 * is private (BPM) or that simply lets the shim do it (guardian spawns one by default). The
 * protocol and the plugin's argv are lib/imageplugin.h's. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lib/imageplugin.h"

#define IPS_NS_PER_MS 1000000ULL

/* --- server.c: `image-plugin-shim serve` ------------------------------------------------------ */

struct ips_serve_opts {
	const char *socket_path;
	unsigned socket_mode;
	struct gdn_imageplugin_conf plugins[2]; /* by enum gdn_imageplugin_kind */
	uint64_t timeout_ns;
	const char *timeout_text; /* as given, for messages */
};

/* Serves until SIGTERM or SIGINT, then waits for the requests in flight and returns 0. */
int ips_serve(const struct ips_serve_opts *o, struct gdn_err **err);

/* --- client.c: the admin commands ------------------------------------------------------------ */

struct ips_client_opts {
	const char *socket_path;
	uint64_t timeout_ns;
};

/* Sends req and prints the plugin's stdout (or, for ping, the reply); returns the exit status. */
int ips_client(const struct ips_client_opts *o, const struct gdn_imageplugin_request *req);
