/* guardian's event loop (lib/loop): the listeners, client connections, worker pidfds and
 * result pipes, leases, a signalfd, and the grace and standby deadlines. No threads: slow work
 * (create, destroy, stop) runs in forked worker processes (worker.c); everything else is
 * answered inline from the registry.
 *
 * Objects that own a watch keep its fd readable under its old name too (an anonymous union with
 * the watch, whose first member is the fd), and are released through the loop's deferred
 * frees, so that a later event of the same round never points at freed memory. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>
#include "lib/buf.h"
#include "lib/err.h"
#include "lib/http.h"
#include "lib/ipc.h"
#include "lib/log.h"
#include "lib/loop.h"
#include "cmd/guardian/config.h"
#include "cmd/guardian/registry.h"
#include "cmd/guardian/daemon.h"
#include "cmd/guardian/kawasaki_proc.h"

#define GD_MAX_BODY (1024 * 1024)
/* A worker's result line may be longer than an IPC line: BulkMetrics' body is ~1.3 KiB a
 * container. */
#define GD_WORKER_MAX_RESULT (64 * 1024 * 1024)
/* A standby dadoo is started when the loop has had nothing to do for this long, so that its
 * spawn never delays the tail of the request that used the last one (its stream connections). */
#define GD_STANDBY_IDLE_MS 1

struct gd_server;
struct gd_conn;
struct gd_worker;
struct gd_pea_watch;
struct gd_call;

enum gd_conn_state { GD_CONN_READING, GD_CONN_WAITING, GD_CONN_WRITING };

struct gd_conn {
	union {
		struct gdn_watch w;
		int fd;
	};
	struct gdn_defer defer;
	enum gd_conn_state state;
	struct gdn_buf in;  /* bytes read and not yet consumed */
	struct gdn_buf out; /* response bytes not yet written */
	struct gdn_http_req req;
	bool have_head;
	size_t head_scanned; /* in.data[0..head_scanned) holds no complete head */
	struct gdn_chunked chunked;
	struct gdn_buf body;
	bool keep_alive;
	bool close_after_write;
	struct gd_ctr *paused; /* container whose grace timer this request paused */
	struct gdn_log *log;
	/* armed while it waits for a request (head): closes it then; server.c */
	struct gdn_timer deadline;
	uint64_t idle_since_ns; /* monotonic: when it last started waiting for a request */
	bool idle;		/* keep-alive, waiting for the first byte of the next request */
	bool debug;		/* accepted by the debug listener: served by gd_debug_serve */
	struct gd_conn *next;
};

typedef void (*gd_worker_done_fn)(struct gd_server *s, struct gd_worker *w, struct gdn_err *err);

struct gd_worker {
	union {
		struct gdn_watch w_pidfd;
		int pidfd;
	};
	union {
		struct gdn_watch w_pipe;
		int result_fd;
	};
	struct gdn_defer defer;
	struct gdn_timer deadline; /* gd_worker_watch's timeout */
	uint64_t timeout_ns;
	pid_t pid;
	struct gdn_lines lines;
	json_t *result; /* the worker's result line, once read */
	bool exited;
	bool watch; /* gd_worker_watch: done() at the first line; it may take result_fd */
	int status;
	struct gd_conn *conn; /* NULL when nobody waits for the answer (reaper, start-up) */
	char *handle;
	void *data; /* handler-specific */
	void (*free_data)(void *);
	gd_worker_done_fn done;
	struct gd_worker *next;
};

/* Our end of a socketpair whose other end a dadoo holds while a client is attached to one of the
 * container's processes: the container's grace timer stays paused until it hangs up. */
struct gd_lease {
	union {
		struct gdn_watch w;
		int fd;
	};
	struct gdn_defer defer;
	char *handle;
	uint64_t serial; /* of the gd_ctr it paused, so a re-created handle is not resumed */
	struct gd_lease *next;
};

struct gd_listener {
	union {
		struct gdn_watch w;
		int fd;
	};
	const char *what;
	bool debug; /* the debug server's (--debug-bind-ip) */
};

struct gd_server {
	const struct gd_config *cfg;
	struct gdn_log *log;
	struct gdn_loop loop;
	struct gdn_timer reaper;	 /* the nearest grace deadline */
	struct gdn_timer standby;	 /* GD_STANDBY_IDLE_MS after the last event, while wanted */
	struct gd_listener listeners[3]; /* --bind-socket, --bind-ip, --debug-bind-ip */
	size_t n_listeners;
	struct gd_conn *conns;
	size_t n_conns;
	struct gd_worker *workers;
	struct gd_registry reg;
	struct gd_lease *leases;
	int standby_fd;	     /* the job socket of the dadoo kept waiting (dadoo_launch.h), or -1 */
	bool standby_wanted; /* start one once the loop has been idle for GD_STANDBY_IDLE_MS */
	struct gd_call *calls; /* requests to dadoos whose replies the loop waits for */
	uint64_t next_stream_id;
	bool stopping;
	/* the depot's flock (main.c), or -1: workers close their copy at once, so that only
	 * guardian itself holds the lock and a new guardian can start the moment it dies */
	int lock_fd;
	struct gd_daemon kawasaki;   /* kawasaki_proc.h */
	struct gd_daemon image_shim; /* imageplugin_proc.h */
	/* images' sizes by lowerdir, as Metrics' workers measured them (volume_store.h) */
	json_t *image_sizes;
	struct gd_pea_watch *pea_watches; /* running peas, cleaned up when they exit (pea.h) */
};

int gd_server_init(struct gd_server *s, const struct gd_config *cfg, struct gdn_err **err);
/* Serves until SIGTERM/SIGINT, then finishes in-flight requests and returns. */
int gd_server_run(struct gd_server *s, struct gdn_err **err);
void gd_server_free(struct gd_server *s);

/* Start-up: rebuild the registry from the depot; finish interrupted destroys, undo interrupted
 * creates, and with --destroy-containers-on-startup destroy everything. */
int gd_server_restore(struct gd_server *s, struct gdn_err **err);

/* Responses (they switch the connection to writing and resume a paused grace timer). */
void gd_reply_json(struct gd_server *s, struct gd_conn *c, int status, json_t *body);
void gd_reply_error(struct gd_server *s, struct gd_conn *c, const struct gdn_err *err);
void gd_reply_text(struct gd_server *s, struct gd_conn *c, int status, const char *text,
		   const char *extra_header);
/* A response with any content type (body copied). */
void gd_reply_body(struct gd_server *s, struct gd_conn *c, int status, const char *content_type,
		   const void *body, size_t len);

/* Queues raw bytes (e.g. a hijacked stream's head and payloads) and closes after writing. */
void gd_reply_raw(struct gd_server *s, struct gd_conn *c, const void *data, size_t len);
/* Closes a connection whose fd was handed to another process, without answering. */
void gd_conn_close(struct gd_server *s, struct gd_conn *c);
/* Kills the process of every dadoo of the container that died under it (handlers_processes.c:
 * a process dir whose dadoo.pid is dead and that has no exitcode) and records the loss, which
 * Attach then answers. Run when a lease ends: the dadoo holding it has hung up or died. */
void gd_processes_check_shims(struct gd_server *s, const char *handle);
/* Pauses ctr's grace timer until the other end of the returned lease fd is closed; -errno. */
int gd_lease_new(struct gd_server *s, struct gd_ctr *ctr, struct gdn_err **err);

/* Forks a worker that runs fn(s->cfg, arg) and reports its error (or success) as one JSON line;
 * when it has exited, done() runs in the loop. The conn (may be NULL) waits meanwhile. */
typedef int (*gd_worker_fn)(const struct gd_config *cfg, void *arg, struct gdn_log *log,
			    struct gdn_err **err);
/* arg is kept as w->data for done() and released with free_arg (may be NULL) afterwards;
 * ownership passes to the worker even when starting it fails. */
int gd_worker_start(struct gd_server *s, struct gd_conn *conn, const char *handle, gd_worker_fn fn,
		    void *arg, void (*free_arg)(void *), gd_worker_done_fn done,
		    struct gdn_err **err);
/* In a worker's fn: members for its {"ok":true} line (taken; done() finds them in w->result). */
void gd_worker_set_result(json_t *members);
/* Like a worker, for a result line that another process (a starting dadoo) writes on fd:
 * done() runs when the line (or EOF) arrives, with err NULL and the line (or NULL) in
 * w->result, and may take w->result_fd (setting it to -1) to go on talking on it; or, when no
 * line came within timeout_ns (0: no limit), with err saying so and w->result NULL. Takes fd,
 * and arg as gd_worker_start does. */
int gd_worker_watch(struct gd_server *s, struct gd_conn *conn, const char *handle, int fd,
		    uint64_t timeout_ns, void *arg, void (*free_arg)(void *),
		    gd_worker_done_fn done, struct gdn_err **err);
/* The gd_server of a loop (it is embedded there). */
static inline struct gd_server *gd_server_of(struct gdn_loop *l)
{
	return (struct gd_server *)((char *)l - offsetof(struct gd_server, loop));
}

/* Routing (routes.c): dispatch a complete request. */
void gd_route(struct gd_server *s, struct gd_conn *c);
/* The debug server (debug_server.c): answers a request that came to the debug listener. */
void gd_debug_serve(struct gd_server *s, struct gd_conn *c);

/* Grace-time reaper (reaper.c): the next deadline (CLOCK_MONOTONIC ns, UINT64_MAX: none) and
 * reaping the containers whose deadline has passed. */
uint64_t gd_reaper_next(struct gd_server *s);
void gd_reaper_fire(struct gd_server *s);
/* Starts a destroy worker for a registered container (used by the API, reaper and start-up). */
int gd_destroy_start(struct gd_server *s, struct gd_conn *conn, struct gd_ctr *ctr,
		     struct gdn_err **err);
