/* Starting and supervising guardian's kawasaki. */
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
#include "lib/util.h"
#include "cmd/guardian/kawasaki_client.h"
#include "cmd/guardian/kawasaki_proc.h"
#include "cmd/guardian/server.h"

#define MAX_ARGS 320
#define READY_WAIT_MS 10000
#define RESTART_DELAY_MS 1000

bool gd_kawasaki_used(const struct gd_server *s)
{
	return !s->cfg->network_plugin && !s->cfg->no_networking;
}

static int spawn(struct gd_server *s, struct gdn_err **err)
{
	const struct gd_config *c = s->cfg;
	const char *argv[MAX_ARGS];
	char start[16], size[16], mtu[16];
	size_t n = 0;

	if (!c->kawasaki_bin)
		return gdn_err_set(err, ENOENT,
				   "no kawasaki beside guardian: give --kawasaki-bin or "
				   "--kawasaki-socket");
	(void)snprintf(start, sizeof(start), "%u", (unsigned)c->port_pool_start);
	(void)snprintf(size, sizeof(size), "%u", (unsigned)c->port_pool_size);
	(void)snprintf(mtu, sizeof(mtu), "%u", (unsigned)c->mtu);
	argv[n++] = "kawasaki";
	argv[n++] = "serve";
	argv[n++] = "--socket";
	argv[n++] = c->kawasaki_listen;
	argv[n++] = "--state-dir";
	argv[n++] = c->kawasaki_state_dir;
	argv[n++] = "--network-pool";
	argv[n++] = c->network_pool;
	argv[n++] = "--port-pool-start";
	argv[n++] = start;
	argv[n++] = "--port-pool-size";
	argv[n++] = size;
	argv[n++] = "--log-level";
	argv[n++] = gdn_log_level_name(c->log_level);
	argv[n++] = "--deny-network=";
	for (const char **d = c->deny_networks; d && *d && n < MAX_ARGS - 12; d++)
		argv[n++] = "--deny-network", argv[n++] = *d;
	for (const char **d = c->dns_servers; d && *d && n < MAX_ARGS - 12; d++)
		argv[n++] = "--dns-server", argv[n++] = *d;
	if (c->allow_host_access)
		argv[n++] = "--allow-host-access";
	if (c->external_ip)
		argv[n++] = "--external-ip", argv[n++] = c->external_ip;
	if (c->mtu)
		argv[n++] = "--mtu", argv[n++] = mtu;
	if (c->tag && *c->tag)
		argv[n++] = "--tag", argv[n++] = c->tag;
	argv[n] = NULL;

	struct gdn_spawn_opts o = {
	    .path = c->kawasaki_bin,
	    .argv = (char *const *)argv,
	    .stdin_fd = -1,
	    .stdout_fd = -1,
	    .stderr_fd = STDERR_FILENO,
	    .pdeathsig = SIGTERM,
	};
	int r = gdn_spawn(&o, &s->kawasaki.pid, &s->kawasaki.pidfd, err);
	if (r < 0)
		return gdn_err_wrap(err, "start kawasaki");
	(void)gdn_loop_watch(&s->loop, &s->kawasaki.w, EPOLLIN);
	char pid[16];
	(void)snprintf(pid, sizeof(pid), "%d", (int)s->kawasaki.pid);
	gdn_log_info(s->log, "kawasaki.started", "pid", pid, "socket", c->kawasaki_listen, NULL);
	return 0;
}

static void on_restart(struct gdn_loop *l, struct gdn_timer *t)
{
	struct gd_server *s = gd_server_of(l);
	_cleanup_err_ struct gdn_err *e = NULL;

	(void)t;
	if (s->stopping)
		return;
	if (spawn(s, &e) < 0) {
		gdn_log_error(s->log, "kawasaki.restart-failed", e, NULL);
		(void)gdn_loop_timer_in(l, &s->kawasaki.restart, RESTART_DELAY_MS);
	}
}

static void on_exit_(struct gdn_loop *l, struct gdn_watch *w, uint32_t events)
{
	struct gd_server *s = gd_server_of(l);
	int status = 0;
	char code[16];

	(void)w;
	(void)events;
	(void)gdn_proc_wait(s->kawasaki.pid, s->kawasaki.pidfd, &status, NULL);
	gdn_loop_close(l, &s->kawasaki.w);
	s->kawasaki.pid = 0;
	if (s->stopping)
		return;
	s->kawasaki.restarts++;
	(void)snprintf(code, sizeof(code), "%d", status);
	gdn_log_info(s->log, "kawasaki.exited-restarting", "status", code, NULL);
	(void)gdn_loop_timer_in(l, &s->kawasaki.restart, RESTART_DELAY_MS);
}

static int wait_ready(struct gd_server *s, struct gdn_err **err)
{
	uint64_t until = gdn_now_mono_ns() + (uint64_t)READY_WAIT_MS * 1000000;

	for (;;) {
		_cleanup_err_ struct gdn_err *e = NULL;
		_cleanup_close_ int fd =
		    gdn_ipc_connect(s->cfg->kawasaki_listen, SOCK_SEQPACKET, 0, &e);
		json_auto_t *req = gdn_ipc_request_new("ping", GD_KAWASAKI_VERSION);
		if (fd >= 0 && req && gdn_ipc_call(fd, req, NULL, 0, 1000, NULL, &e) == 0)
			return 0;
		siginfo_t si = {0};
		if (s->kawasaki.pid > 0 &&
		    waitid(P_PID, (id_t)s->kawasaki.pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
		    si.si_pid == s->kawasaki.pid)
			return gdn_err_set(err, ESRCH,
					   "kawasaki exited at start-up (status %d; see its log)",
					   si.si_status);
		if (gdn_now_mono_ns() >= until)
			return gdn_err_set(
			    err, ETIMEDOUT, "kawasaki did not answer on '%s' within %d s: %s",
			    s->cfg->kawasaki_listen, READY_WAIT_MS / 1000, gdn_err_str(e));
		struct timespec ts = {0, 20 * 1000 * 1000};
		(void)nanosleep(&ts, NULL);
	}
}

int gd_kawasaki_start(struct gd_server *s, struct gdn_err **err)
{
	gdn_watch_init(&s->kawasaki.w, -1, on_exit_, s);
	gdn_timer_init(&s->kawasaki.restart, on_restart, s);
	if (!gd_kawasaki_used(s))
		return 0;
	s->kawasaki.wanted = !s->cfg->kawasaki_socket;
	if (s->kawasaki.wanted) {
		int r = spawn(s, err);
		if (r < 0)
			return r;
	}
	return wait_ready(s, err);
}

void gd_kawasaki_stop(struct gd_server *s)
{
	int status;

	gdn_loop_timer_cancel(&s->loop, &s->kawasaki.restart);
	if (s->kawasaki.pid <= 0)
		return;
	(void)kill(s->kawasaki.pid, SIGTERM);
	(void)gdn_proc_wait(s->kawasaki.pid, s->kawasaki.pidfd, &status, NULL);
	gdn_loop_close(&s->loop, &s->kawasaki.w);
	s->kawasaki.pid = 0;
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
