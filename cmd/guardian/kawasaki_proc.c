/* guardian's kawasaki: its command line, start, stop and start-up cleanup. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "lib/ipc.h"
#include "lib/proc.h"
#include "lib/run.h"
#include "lib/util.h"
#include "cmd/guardian/kawasaki_client.h"
#include "cmd/guardian/kawasaki_proc.h"
#include "cmd/guardian/server.h"

bool gd_kawasaki_used(const struct gd_server *s)
{
	return !s->cfg->network_plugin && !s->cfg->no_networking;
}

static void build_argv(const struct gd_config *c, struct gd_daemon_argv *a)
{
	const size_t max = GD_DAEMON_ARGS_MAX - 12;
	char *start = a->numbers[0], *size = a->numbers[1], *mtu = a->numbers[2];

	(void)snprintf(start, sizeof(a->numbers[0]), "%u", (unsigned)c->port_pool_start);
	(void)snprintf(size, sizeof(a->numbers[1]), "%u", (unsigned)c->port_pool_size);
	(void)snprintf(mtu, sizeof(a->numbers[2]), "%u", (unsigned)c->mtu);
	a->v[a->n++] = "kawasaki";
	a->v[a->n++] = "serve";
	a->v[a->n++] = "--socket";
	a->v[a->n++] = c->kawasaki_listen;
	a->v[a->n++] = "--state-dir";
	a->v[a->n++] = c->kawasaki_state_dir;
	a->v[a->n++] = "--network-pool";
	a->v[a->n++] = c->network_pool;
	a->v[a->n++] = "--port-pool-start";
	a->v[a->n++] = start;
	a->v[a->n++] = "--port-pool-size";
	a->v[a->n++] = size;
	a->v[a->n++] = "--log-level";
	a->v[a->n++] = gdn_log_level_name(c->log_level);
	a->v[a->n++] = "--deny-network=";
	for (const char **d = c->deny_networks; d && *d && a->n < max; d++)
		a->v[a->n++] = "--deny-network", a->v[a->n++] = *d;
	for (const char **d = c->dns_servers; d && *d && a->n < max; d++)
		a->v[a->n++] = "--dns-server", a->v[a->n++] = *d;
	if (c->allow_host_access)
		a->v[a->n++] = "--allow-host-access";
	if (c->external_ip)
		a->v[a->n++] = "--external-ip", a->v[a->n++] = c->external_ip;
	if (c->mtu)
		a->v[a->n++] = "--mtu", a->v[a->n++] = mtu;
	if (c->tag && *c->tag)
		a->v[a->n++] = "--tag", a->v[a->n++] = c->tag;
}

/* how long `kawasaki setup` may take: two table commits */
#define KAWASAKI_SETUP_TIMEOUT_NS (60ULL * 1000000000ULL)

int gd_kawasaki_setup(const struct gd_config *cfg, struct gdn_log *log, struct gdn_err **err)
{
	struct gd_daemon_argv a = {0};
	_cleanup_run_result_ struct gdn_run_result res = {0};
	int r;

	if (!cfg->kawasaki_bin)
		return gdn_err_set(err, ENOENT, "no kawasaki beside guardian: give --kawasaki-bin");
	build_argv(cfg, &a);
	a.v[1] = "setup";
	a.v[a.n] = NULL;
	struct gdn_spawn_opts so = {
	    .path = cfg->kawasaki_bin,
	    .argv = (char *const *)a.v,
	    .stdin_fd = -1,
	    .stdout_fd = -1,
	    .stderr_fd = -1,
	};
	struct gdn_run_opts ro = {
	    .spawn = &so, .timeout_ns = KAWASAKI_SETUP_TIMEOUT_NS, .relog = log};
	r = gdn_run(&ro, &res, err);
	if (r < 0)
		return gdn_err_wrap(err, "kawasaki setup");
	if (res.status != 0)
		return gdn_err_set(err, 0, "kawasaki setup exited with status %d (see its log)",
				   res.status);
	return 0;
}

int gd_kawasaki_start(struct gd_server *s, struct gdn_err **err)
{
	struct gd_daemon *d = &s->kawasaki;

	d->name = "kawasaki";
	d->bin = s->cfg->kawasaki_bin;
	d->missing = "no kawasaki beside guardian: give --kawasaki-bin or --kawasaki-socket";
	d->socket = s->cfg->kawasaki_listen;
	d->ping_v = GD_KAWASAKI_VERSION;
	d->build_argv = build_argv;
	gd_daemon_init(s, d);
	if (!gd_kawasaki_used(s))
		return 0;
	return gd_daemon_start(s, d, !s->cfg->kawasaki_socket, err);
}

void gd_kawasaki_stop(struct gd_server *s)
{
	gd_daemon_stop(s, &s->kawasaki);
}

void gd_network_cleanup(struct gd_server *s)
{
	_cleanup_err_ struct gdn_err *e = NULL;
	json_auto_t *req = gdn_ipc_request_new("cleanup", GD_KAWASAKI_VERSION);
	json_auto_t *reply = NULL;
	json_t *keep = json_array();

	if (!gd_kawasaki_used(s)) {
		json_decref(keep);
		return;
	}
	/* every registered container, also those whose destroy has just been started (their
	 * workers take their networks down themselves) */
	for (struct gd_ctr *c = s->reg.head; keep && c; c = c->next)
		json_array_append_new(keep, json_string(c->handle));
	if (!req || !keep || json_object_set_new(req, "keep", keep) < 0) {
		gdn_log_error(s->log, "network.cleanup-failed", NULL, NULL);
		return;
	}
	if (gd_kawasaki_call(s->cfg, req, -1, &reply, &e) < 0) {
		gdn_log_error(s->log, "network.cleanup-failed", e, NULL);
		return;
	}
	static const char *const kinds[] = {"containers", "chains", "links"};
	for (size_t k = 0; k < GDN_ARRAY_SIZE(kinds); k++) {
		size_t i;
		json_t *v;
		json_array_foreach (json_object_get(reply, kinds[k]), i, v) {
			gdn_log_info(s->log, "network.cleanup-removed", "kind", kinds[k], "name",
				     json_string_value(v), NULL);
		}
	}
}
