/* The suite's one framing: newline-delimited compact JSON objects, at most GDN_IPC_MAX_LINE bytes
 * per line. On SOCK_SEQPACKET sockets one packet carries one line plus its fds (SCM_RIGHTS);
 * on pipes and stream sockets lines are read through a gdn_lines reader. Readers ignore
 * members they do not understand. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
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
