/* The debug server (--debug-bind-ip): a listener of guardian's loop whose connections are
 * served here instead of by the Garden router. As gdn's debug server (Go's expvar handler on
 * http.DefaultServeMux) it answers /debug/vars, whatever the method, and http.NotFound for
 * every other path. Garden's /debug/pprof and log-level endpoints are not served.
 *
 * The answer is built in the loop: it reads a few small files (/proc/self/{cmdline,status})
 * and lists a few directories (the depot and its process dirs, /sys/block, the store's
 * volumes): measured 2.7 ms per request for a depot of 500 containers with 3 process dirs
 * each (warm dentry cache), a cost only the client that asks for it incurs. */
#include <string.h>
#include <unistd.h>

#include "lib/buf.h"
#include "cmd/guardian/debug_vars.h"
#include "cmd/guardian/server.h"
#include "cmd/guardian/volume_store.h"

#define VARS_PATH "/debug/vars"

/* Connections of the API (not the debug server's) with a request in: its head has arrived and
 * it is being read, handled or answered. Idle keep-alives and heads still arriving do not
 * count. */
static uint64_t requests_in_flight(const struct gd_server *s)
{
	uint64_t n = 0;

	for (const struct gd_conn *c = s->conns; c; c = c->next)
		if (!c->debug && (c->state != GD_CONN_READING || c->have_head))
			n++;
	return n;
}

/* Garden's numGoRoutines, for a server without goroutines: guardian itself and the worker
 * processes (create, destroy, stop, stream, net) it has in flight. A watched dadoo start
 * (gd_worker_watch) is not a process of guardian's. */
static uint64_t live_processes(const struct gd_server *s)
{
	uint64_t n = 1;

	for (const struct gd_worker *w = s->workers; w; w = w->next)
		if (w->pid > 0 && !w->exited)
			n++;
	return n;
}

static uint64_t backing_stores(const struct gd_config *cfg)
{
	char path[4096];

	if (!cfg->store)
		return 0;
	(void)snprintf(path, sizeof(path), "%s/%s", cfg->store, GD_VOLUME_STORE_DIR);
	return gd_debug_count_entries(path);
}

static json_t *build_vars(const struct gd_server *s)
{
	const struct gd_config *cfg = s->cfg;
	struct gd_mem_sources mem = {0};
	long ncpus = sysconf(_SC_NPROCESSORS_ONLN);

	gd_debug_read_mem(&mem);
	return json_pack(
	    "{s:o?, s:o?, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "cmdline",
	    gd_debug_read_cmdline(), "memstats", gd_debug_memstats(&mem), "numCPUS",
	    (json_int_t)(ncpus > 0 ? ncpus : 1), "numGoRoutines", (json_int_t)live_processes(s),
	    "loopDevices", (json_int_t)gd_debug_count_loop_devices("/sys/block"), "backingStores",
	    (json_int_t)backing_stores(cfg), "depotDirs",
	    (json_int_t)gd_debug_count_entries(cfg->depot), "containers", (json_int_t)s->reg.count,
	    "processes", (json_int_t)gd_debug_count_processes(cfg->depot), "requestsInFlight",
	    (json_int_t)requests_in_flight(s));
}

void gd_debug_serve(struct gd_server *s, struct gd_conn *c)
{
	_cleanup_(gdn_buf_freep) struct gdn_buf body = {0};
	json_auto_t *vars = NULL;

	if (strcmp(c->req.path, VARS_PATH) != 0) {
		/* Go's http.NotFound */
		gd_reply_text(s, c, 404, "404 page not found\n", "X-Content-Type-Options: nosniff");
		return;
	}
	c->log = gdn_log_session(s->log, "debug-vars", NULL);
	gdn_log_debug(c->log, "started", NULL);
	vars = build_vars(s);
	if (!vars || gd_debug_vars_render(vars, &body) < 0) {
		gd_reply_text(s, c, 500, "out of memory\n", NULL);
		return;
	}
	gd_reply_body(s, c, 200, "application/json; charset=utf-8", body.data, body.len);
}
