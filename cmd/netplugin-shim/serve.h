/* The server's state, shared by server.c (socket, connections, requests) and run.c (the plugin
 * runs). One loop (lib/loop): each plugin runs as a child watched through its pidfd, stdout
 * and stderr pipes and a deadline timer, so a slow plugin holds up only its own request. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "lib/buf.h"
#include "lib/listener.h"
#include "lib/log.h"
#include "lib/loop.h"
#include "lib/run.h"
#include "cmd/netplugin-shim/nps.h"

/* Connections served at once; past it the socket is not accepted from until one closes. */
#define NPS_MAX_CONNS 256
/* The last line of the plugin's stderr kept for the error message. */
#define NPS_ERR_LINE_MAX 1024

struct nps_server;
struct nps_conn;

struct nps_run {
	struct nps_server *srv;
	struct nps_conn *conn;
	struct gdn_log *log;
	char *action;
	int v; /* the request's version */
	struct gdn_child child;
	struct gdn_watch exited; /* the child's pidfd (owned by child) */
	struct gdn_watch out, err;
	struct gdn_timer deadline;
	struct gdn_buf stdout_buf; /* up to NPS_OUTPUT_MAX */
	bool stdout_over;
	struct gdn_buf line;	  /* the stderr line being read */
	struct gdn_buf last_line; /* the last non-empty one */
	struct gdn_defer defer;
};

struct nps_conn {
	struct nps_conn *next;
	struct nps_server *srv;
	struct gdn_watch w;
	struct nps_run *run; /* the request being served, or NULL */
	struct gdn_defer defer;
};

struct nps_server {
	const struct nps_serve_opts *opts;
	struct gdn_loop loop;
	struct gdn_listener listen;
	struct nps_conn *conns;
	size_t n_conns;
	bool stopping;
	struct gdn_log *log;
};

/* Starts the plugin for a valid request; ns_fd (taken; -1: none) becomes its fd 3. On failure
 * the error is for the client. */
int nps_run_start(struct nps_server *s, struct nps_conn *c, const struct nps_request *req,
		  int ns_fd, struct gdn_err **err);
/* Kills and forgets the run (at exit, when the loop is gone). */
void nps_run_abandon(struct nps_run *r);

/* Called by run.c once the run is over and its reply sent (or not: sent false): the
 * connection takes its next request, or closes when the server is stopping or the reply was
 * lost. */
void nps_conn_done(struct nps_server *s, struct nps_conn *c, bool sent);
