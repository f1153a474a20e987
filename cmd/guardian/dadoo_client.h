/* guardian's side of the dadoo socket (docs/PROCESSES.md): connecting to a process's shim,
 * the versioned request/reply exchange, and killing shims at destroy. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include <jansson.h>
#include "lib/err.h"
#include "lib/log.h"
#include "cmd/guardian/server.h"

/* <container dir>/processes/<id> (malloc'd). */
char *gd_process_dir(const char *container_dir, const char *id);

/* The dadoo protocol (docs/PROCESSES.md): guardian's requests are of version
 * GD_DADOO_PROTO_VERSION; it drives dadoos of versions GD_DADOO_PROTO_MIN and up (an
 * unversioned reply is version 0: dadoos started before versioning), and refuses others with an
 * error naming both versions. */
#define GD_DADOO_PROTO_VERSION 1
#define GD_DADOO_PROTO_MIN 0
/* How long guardian waits for a dadoo's reply. */
#define GD_DADOO_TIMEOUT_MS 5000

/* Connects to <process dir>/dadoo.sock (long paths through /proc/self/fd); flags as for
 * gdn_ipc_connect. -ECONNREFUSED / -ENOENT mean the shim is gone. */
int gd_dadoo_connect(const char *process_dir, int flags, struct gdn_err **err);

/* {"op":op,"v":GD_DADOO_PROTO_VERSION}; the caller adds the members. */
json_t *gd_dadoo_request_new(const char *op);

/* Checks a dadoo's reply: 0 when ok (with *ret_v, may be NULL, its version), else the error it
 * answered — Garden-typed ones as they came, plain ones as "shim: <message>"; version 0's
 * {"error":"<text>"} is a plain error. */
int gd_dadoo_reply(const json_t *reply, int *ret_v, struct gdn_err **err);

/* Reads a start result: 0 with *ret_pid for {"ok":true,"v":N,"pid":P} (version 0: {"pid":P}),
 * or the error in it (ExecutableNotFoundError as such). NULL result: dadoo exited silently. */
int gd_dadoo_start_result(const json_t *result, pid_t *ret_pid, int *ret_v, struct gdn_err **err);

/* Sends one request with fds and waits (at most GD_DADOO_TIMEOUT_MS) for dadoo's reply packet,
 * blocking. Returns 0 when ok (with *ret_reply if non-NULL), or the error (gd_dadoo_reply). */
int gd_dadoo_request(int sock, json_t *req, const int *fds, size_t nfds, json_t **ret_reply,
		     struct gdn_err **err);

/* --- asynchronous requests: the loop never blocks on a dadoo ----------------------------------
 * A request already sent on fd (non-blocking) whose reply the loop watches, with a deadline of
 * GD_DADOO_TIMEOUT_MS. done() runs exactly once: with the ok reply and *err NULL, or with reply
 * NULL and *err saying why (the dadoo's error as gd_dadoo_reply gives it, a hang-up, or no
 * reply in time); it may take *err. Meanwhile conn (may be NULL) waits; it becomes NULL if the
 * client leaves. */
typedef void (*gd_call_done_fn)(struct gd_server *s, struct gd_call *call, json_t *reply,
				struct gdn_err **err);
struct gd_call {
	union {
		struct gdn_watch w;
		int fd;
	};
	struct gdn_timer deadline; /* GD_DADOO_TIMEOUT_MS after the request */
	struct gdn_defer defer;
	struct gd_conn *conn;
	char *process_id; /* for messages */
	void *data;
	void (*free_data)(void *);
	gd_call_done_fn done;
	struct gd_call *next;
};

/* Takes fd and data (freed with free_data after done(), or at once on failure). */
int gd_call_start(struct gd_server *s, struct gd_conn *conn, int fd, const char *process_id,
		  void *data, void (*free_data)(void *), gd_call_done_fn done,
		  struct gdn_err **err);
/* Forgetting a connection that went away; freeing all calls (without done()). */
void gd_call_forget_conn(struct gd_server *s, const struct gd_conn *conn);
void gd_call_free_all(struct gd_server *s);

/* SIGKILLs the dadoo serving procdir (pid from dadoo.pid, trusted as below), and with `wait`
 * waits (at most 5 s) for it to go. Nothing happens when there is none. */
void gd_dadoo_kill(const char *procdir, bool wait, struct gdn_log *log);

/* SIGKILLs the dadoo of every process of the container (pid from dadoo.pid, trusted only if
 * /proc/<pid>/cmdline is a dadoo serving that process dir) and waits for each to go. */
void gd_dadoo_kill_all(const char *container_dir, struct gdn_log *log);
