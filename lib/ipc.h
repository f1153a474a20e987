/* The suite's one home for UNIX-socket IPC (garden-ipc(5)).
 *
 * Framing: newline-delimited compact JSON objects, at most GDN_IPC_MAX_LINE bytes per line. On
 * SOCK_SEQPACKET sockets one packet carries one line plus its fds (SCM_RIGHTS); on pipes and
 * stream sockets lines are read through a gdn_lines reader. Readers ignore members they do not
 * understand.
 *
 * Envelope: requests {"op":"<name>","v":N,...}; replies {"ok":true,...} or
 * {"error":{"type":"<Garden Type or empty>","message":"...",...}} (lib/errwire.h), both with
 * the replier's "v" where it has one.
 *
 * Sockets: paths longer than sun_path are reached through /proc/self/fd/<dirfd>/<name>; a
 * listening socket is created with its final mode; accepted peers must be root or our euid. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <jansson.h>
#include "lib/err.h"
#include "lib/buf.h"

#define GDN_IPC_MAX_LINE (1024 * 1024)
#define GDN_IPC_MAX_FDS 8

/* Encodes `msg` compactly plus '\n' (one line). Caller frees. */
char *gdn_ipc_encode(json_t *msg, size_t *ret_len);

/* Sends one line and up to GDN_IPC_MAX_FDS fds in one sendmsg (SEQPACKET) or one write loop
 * (pipes/streams; nfds must then be 0). */
int gdn_ipc_send(int sock, json_t *msg, const int *fds, size_t nfds, struct gdn_err **err);

/* Receives one packet from a SEQPACKET socket with MSG_CMSG_CLOEXEC. Returns 1 with *ret_msg set,
 * 0 on EOF (*ret_msg NULL), or -errno. Truncated packets or control data are rejected and any
 * fds that did arrive are closed. ret_fds may be NULL when no fds are expected (then any that
 * arrive are closed and the call fails with -EBADMSG). */
int gdn_ipc_recv(int sock, json_t **ret_msg, int *ret_fds, size_t *ret_nfds, struct gdn_err **err);

/* Line reader for pipes and stream sockets. */
struct gdn_lines {
	struct gdn_buf buf;
	bool eof;
	size_t max; /* the longest line taken; 0: GDN_IPC_MAX_LINE */
};
/* Reads what is available from fd (one read(2)); returns bytes read, 0 on EOF, or -errno
 * (-EAGAIN on a non-blocking fd with nothing to read). */
ssize_t gdn_lines_fill(struct gdn_lines *r, int fd);
/* Pops the next complete line as a JSON value. Returns 1 with *ret_msg, 0 if no complete line
 * is buffered, or -EBADMSG for invalid JSON / over-long lines (with *err). */
int gdn_lines_next(struct gdn_lines *r, json_t **ret_msg, struct gdn_err **err);
void gdn_lines_free(struct gdn_lines *r);

/* Blocking convenience: reads one JSON line from fd (until '\n' or EOF). Returns 1, 0 on EOF
 * with nothing read, or -errno. */
int gdn_ipc_read_line(int fd, json_t **ret_msg, struct gdn_err **err);

/* --- sockets ----------------------------------------------------------------------------- */
/* flags for listen, connect and accept */
#define GDN_IPC_NONBLOCK 1

/* A listening AF_UNIX socket of `type` (SOCK_STREAM, SOCK_SEQPACKET) at path, whose file has
 * `mode` from the moment it exists (bound under a umask). A socket already at path is replaced
 * unless a server still answers on it: then -EADDRINUSE, "another server is listening on
 * '<path>'". */
int gdn_ipc_listen(const char *path, int type, unsigned mode, int flags, struct gdn_err **err);

/* Connects to the AF_UNIX socket at path. With GDN_IPC_NONBLOCK the socket is non-blocking (a
 * full backlog is then -EAGAIN). -ENOENT / -ECONNREFUSED: nobody serves there. */
int gdn_ipc_connect(const char *path, int type, int flags, struct gdn_err **err);

/* Accepts one connection (CLOEXEC; non-blocking with GDN_IPC_NONBLOCK) from a peer that is
 * root or has our euid (SO_PEERCRED). -EAGAIN (without *err) when none is pending; -EACCES for
 * a refused peer (its connection is closed). */
int gdn_ipc_accept(int lfd, int flags, struct gdn_err **err);
/* Whether the peer of a connected socket is root or has our euid. */
bool gdn_ipc_peer_allowed(int fd);

/* The one SCM_RIGHTS receive: one recvmsg(MSG_CMSG_CLOEXEC) of at most len bytes into buf, with
 * up to max_fds (<= GDN_IPC_MAX_FDS) fds into ret_fds. Works on SEQPACKET sockets (a packet)
 * and on stream sockets (e.g. a console socket, where the runtime sends the pty master with a
 * small payload). Returns the bytes received (0: EOF) or -errno; truncated packets or control
 * data, control messages that are not SCM_RIGHTS, and more fds than max_fds are refused, and
 * any fds that did arrive are closed. */
ssize_t gdn_ipc_recv_fds(int sock, void *buf, size_t len, int *ret_fds, size_t max_fds,
			 size_t *ret_nfds, struct gdn_err **err);

/* --- the envelope -------------------------------------------------------------------------- */
/* {"op":op,"v":v}; the caller adds the request's members. NULL when out of memory. */
json_t *gdn_ipc_request_new(const char *op, int v);
/* {"ok":true} with "v" when v >= 0; the caller adds the result's members. */
json_t *gdn_ipc_ok_new(int v);
/* {"error":<gdn_err_to_json(e)>} with "v" when v >= 0. */
json_t *gdn_ipc_error_new(const struct gdn_err *e, int v);

/* A request's op (borrowed) and version ("v"; 0 when absent). -EBADMSG with *err when op is
 * missing or v is not a non-negative integer. */
int gdn_ipc_request_parse(const json_t *msg, const char **ret_op, int *ret_v, struct gdn_err **err);
/* A reply: 0 for {"ok":true,...}, or the code of the error it carries (set in *err; a bare
 * string error is a plain one). *ret_v (may be NULL) gets the replier's "v", 0 when absent.
 * -EPROTO with *err for a reply that is neither, or whose v is not a non-negative integer. */
int gdn_ipc_reply_parse(const json_t *msg, int *ret_v, struct gdn_err **err);

/* gdn_ipc_call without the reply's parse: *ret_reply gets whatever packet came back (ok or
 * error), for a caller that reads more of a failed reply than its error. */
int gdn_ipc_exchange(int sock, json_t *req, const int *fds, size_t nfds, int timeout_ms,
		     json_t **ret_reply, struct gdn_err **err);

/* gdn_ipc_exchange's second half: waits at most timeout_ms for the reply packet to a request
 * sent earlier with gdn_ipc_send, for a caller with other work to do in between. */
int gdn_ipc_await(int sock, int timeout_ms, json_t **ret_reply, struct gdn_err **err);

/* Sends a request on a SEQPACKET socket and waits at most timeout_ms (poll; -ETIMEDOUT) for the
 * reply packet. Returns 0 with the reply in *ret_reply (may be NULL) when it is ok, or the
 * error it carries; -ECONNRESET when the peer hung up without replying. */
int gdn_ipc_call(int sock, json_t *req, const int *fds, size_t nfds, int timeout_ms,
		 json_t **ret_reply, struct gdn_err **err);

/* Replies on sock: e NULL: {"ok":true} plus the members of `result` (may be NULL); else the
 * error envelope. v as for gdn_ipc_ok_new. */
int gdn_ipc_reply(int sock, int v, const json_t *result, const struct gdn_err *e,
		  struct gdn_err **err);
