/* dadoo: the per-process shim (docs/PROCESSES.md, dadoo(8)). The state its modules share.
 *
 * One dadoo runs one process: it execs it with `<runtime> exec --detach`, owns the process's
 * stdio (three pipes, or a pty master), fans its output out to attachments (hijacked Garden
 * connections handed over by guardian on dadoo.sock), and records its exit status. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>
#include "lib/buf.h"
#include "lib/err.h"
#include "lib/ipc.h"
#include "lib/log.h"
#include "lib/loop.h"

/* Output sources: index 0 is the process's stdout (Garden source 1), 1 its stderr (source 2). */
#define DD_SRC_STDOUT 0
#define DD_SRC_STDERR 1
#define DD_NSRC 2

#define DD_NS_PER_MS 1000000ULL
#define DD_NS_PER_S 1000000000ULL

/* One read(2) of process output at most. */
#define DD_READ_CHUNK (64 << 10)
/* Output kept per source while nobody is attached; then reading stops (backpressure). */
#define DD_UNATTACHED_MAX (64 << 10)
/* The same once the process has exited, so that what is left in the pipe can be read to EOF. */
#define DD_UNATTACHED_EXITED_MAX (1 << 20)
/* Output kept per attachment and source for a stream connection that has not arrived, and the
 * pending bytes of a connected one at which reading the source pauses. */
#define DD_STREAM_MAX (1 << 20)
/* For this long after an attach, a stream that has not connected yet and whose buffer is full
 * pauses reading instead of dropping (Go clients connect theirs right after the first payload). */
#define DD_STREAM_CONNECT_GRACE_NS (5 * DD_NS_PER_S)
/* An ended attachment keeps an unconnected stream's buffer, and waits for a connected stream to
 * make progress, this long. */
#define DD_STREAM_RETAIN_NS (60 * DD_NS_PER_S)
/* An exit status nobody collected is kept this long before dadoo exits anyway. */
#define DD_RETENTION_NS (300 * DD_NS_PER_S)

enum dd_stream_state {
	DD_STREAM_WAITING, /* no connection yet: output is buffered (up to DD_STREAM_MAX) */
	DD_STREAM_OPEN,	   /* connected: pend is written as the connection takes it */
	DD_STREAM_CLOSED,  /* done; a connection arriving now gets the head and EOF */
};

struct dd_stream {
	struct gdn_watch w;
	enum dd_stream_state state;
	struct gdn_buf pend;
	bool rd_eof;	      /* the client shut its side down */
	uint64_t dropped;     /* bytes dropped for want of a connection */
	uint64_t progress_at; /* last time the connection took bytes */
};

struct dd_attach {
	struct dd_attach *next;
	char *process_id;
	char *stream_id;
	struct gdn_watch ctl; /* the hijacked control connection */
	int lease_fd;
	struct gdn_buf ctl_out;	   /* head and payloads not yet written */
	struct gdn_lines ctl_in;   /* payloads from the client */
	struct gdn_buf stdin_pend; /* stdin data the process has not taken yet */
	bool active;		   /* gets output, reads payloads */
	bool closing;		   /* the control connection closes once ctl_out is written */
	bool exit_queued;
	uint64_t started_at;
	uint64_t ended_at; /* when it stopped being active */
	struct dd_stream out[DD_NSRC];
	struct gdn_log *log;
};

/* A connection to dadoo.sock (guardian). */
struct dd_client {
	struct dd_client *next;
	struct gdn_watch w;
};

struct dd_source {
	struct gdn_watch w;
	bool eof;
	struct gdn_buf unattached;
};

struct dd_state {
	/* command line */
	const char *dir;
	const char *handle;
	const char *process_id; /* basename of dir */
	bool tty;
	const char *cgroup; /* the sub-cgroup an exec joins (--cgroup); NULL: the container's */
	/* host ids of the process's user: owner of its stdio pipes, so that it may reopen them
	 * (/dev/stdout is /proc/self/fd/1); -1: leave them ours */
	uid_t stdio_uid;
	gid_t stdio_gid;

	int dirfd;
	int exitcode_fd;       /* dd_exit_prepare's unnamed file, or -1 */
	struct gdn_loop loop;  /* with the signalfd for SIGCHLD, SIGTERM and SIGINT */
	struct gdn_timer wake; /* the buffering and exit policies' next deadline */
	struct gdn_watch listen;
	struct gdn_watch in; /* the process's stdin: pipe write end, or a copy of the master */
	int master;	     /* TTY: the pty master (also src[DD_SRC_STDOUT].w.fd) */
	unsigned char veof;
	bool stdin_closed;
	struct dd_source src[DD_NSRC];

	pid_t pid;
	bool reaped;
	int status; /* exit code or 128+signal, once reaped */
	bool finished;
	uint64_t finished_at;
	bool delivered; /* an attachment was sent the exit status */

	struct dd_attach *attaches; /* newest first */
	struct dd_client *clients;
	struct gdn_log *log;
};

/* --- buffer.c: the output buffering policy (no I/O) ---------------------------------------- */
/* How many bytes of source `src` may be read now; 0 means reading pauses. */
size_t dd_read_budget(const struct dd_state *s, int src, uint64_t now);
/* Hands a chunk of output to every active attachment, or to the unattached buffer. */
int dd_fanout(struct dd_state *s, int src, const char *data, size_t len);
/* A new attachment takes over what was kept while nobody was attached. */
void dd_adopt_unattached(struct dd_state *s, struct dd_attach *a);
/* Whether an ended attachment's stream is done at `now` (and can be closed). */
bool dd_stream_expired(const struct dd_attach *a, const struct dd_stream *st, uint64_t now);
/* The earliest future time at which dd_read_budget or dd_stream_expired may change their answer
 * without I/O happening; UINT64_MAX if none. */
uint64_t dd_buffer_deadline(const struct dd_state *s, uint64_t now);
/* Puts `data` in front of what b holds. 0 or -ENOMEM. */
int dd_buf_prepend(struct gdn_buf *b, const void *data, size_t len);
/* Frees the memory of an empty buffer that grew large. */
void dd_buf_trim(struct gdn_buf *b);

/* --- payload.c: Garden ProcessPayloads and dadoo.sock requests (no I/O) -------------------- */
enum dd_payload_kind {
	DD_P_OTHER,
	DD_P_STDIN,	/* data, len */
	DD_P_STDIN_EOF, /* source without data */
	DD_P_SIGNAL,	/* signal = SIGTERM/SIGKILL, or 0 for an unknown Garden signal */
	DD_P_RESIZE,	/* columns, rows (0 already replaced by 80/24) */
};

struct dd_payload {
	enum dd_payload_kind kind;
	const char *data; /* borrowed from the JSON value */
	size_t len;
	int signal;
	unsigned columns, rows;
};

/* The next NDJSON payload of r (like gdn_lines_next, but strings may hold \u0000 and
 * duplicate keys are allowed, as with Go's decoder). 1 with *ret_msg, 0 when no complete line
 * is buffered, -EBADMSG with *err. */
int dd_payload_next(struct gdn_lines *r, json_t **ret_msg, struct gdn_err **err);
/* Classifies a client payload in guardian's order of precedence: tty, source, signal. */
void dd_payload_parse(const json_t *msg, struct dd_payload *ret);
/* `{"process_id":"p","stream_id":"7"}\n` and `{"process_id":"p","exit_status":3}\n`. */
int dd_payload_first(struct gdn_buf *out, const char *process_id, const char *stream_id);
int dd_payload_exit(struct gdn_buf *out, const char *process_id, int status);

/* The dadoo protocol version this dadoo speaks (docs/PROCESSES.md). It serves requests of
 * versions 0 (no "v": guardian before versioning) to DD_PROTO_VERSION, answers version-0
 * requests in version 0's shapes, and states DD_PROTO_VERSION as "v" in every reply and in the
 * start result. */
#define DD_PROTO_VERSION 1

enum dd_op {
	DD_OP_ATTACH,
	DD_OP_STREAM,
	DD_OP_SIGNAL,
	DD_OP_STATE,
};

struct dd_request {
	enum dd_op op;
	int v;			/* the request's protocol version (0 when absent) */
	int status;		/* attach: 201 or 200 */
	const char *process_id; /* attach; NULL: the process dir's name */
	const char *stream_id;	/* attach, stream */
	const char *pending;	/* attach: bytes guardian read past the request */
	size_t pending_len;
	int source; /* stream: 1 or 2 */
	int signal; /* signal */
};

/* Validates a dadoo.sock request (strings are borrowed from msg). A request of a version above
 * DD_PROTO_VERSION is refused with an error naming both; ret->v is set even then. */
int dd_request_parse(const json_t *msg, struct dd_request *ret, struct gdn_err **err);

/* --- runtime.c: `<runtime> exec` -------------------------------------------------------------- */
struct dd_exec {
	const char *runtime;
	const char *runtime_root;	 /* may be NULL */
	const char *const *runtime_args; /* global arguments, NULL-terminated; may be NULL */
	uint64_t timeout_ns; /* deadline of the exec; 0: GDN_RUNTIME_TIMEOUT_DEFAULT_NS */
	struct gdn_log *log; /* the runtime's argv is logged here (debug); may be NULL */
	const char *dir;
	const char *handle;
	/* a pea: the runtime runs the bundle in dir as a container of this id (not an exec) */
	const char *pea_id;
	const char *sub_cgroup;	    /* an exec's `--cgroup`, or NULL */
	int stdio[3];		    /* the process's stdin/stdout/stderr; -1: /dev/null */
	const char *console_socket; /* TTY: path of the console socket, else NULL */
	int console_fd;		    /* TTY: the listening console socket, else -1 */
	int stderr_peek;	    /* non-TTY: our (non-blocking) end of the stderr pipe */
	unsigned columns, rows;	    /* TTY: the initial window size */
	unsigned char veof;	    /* TTY, out: the terminal's end-of-file character */
	/* dadoo's own set-up, done while the runtime works (after it, with a TTY: the pty must be
	 * sized the moment it arrives); if it fails, the started process is killed. */
	int (*meanwhile)(void *arg, struct gdn_err **err);
	void *meanwhile_arg;
};

/* Runs the runtime to completion, within x->timeout_ns. Returns the process's pid (from the
 * pidfile); with a console socket, *ret_master gets the pty master the runtime sent, set up
 * (ONLCR, window size) as soon as it arrived, and x->veof its end-of-file character. A failure
 * of the runtime is -EIO with "<runtime> exec: exit status <n>: <its last error>" in *err, of
 * kind GDN_ERR_EXECUTABLE_NOT_FOUND when that error says so; a runtime still running at the
 * deadline is -ETIMEDOUT with "<runtime> exec: timed out after <d>: the runtime was killed".
 * Whenever it fails, the runtime is killed and reaped, and so are the process (if it was
 * started) and every other child dadoo got meanwhile (the runtime's orphans, reparented to the
 * subreaper): nothing starts after dadoo reported failure. */
int dd_runtime_exec(struct dd_exec *x, pid_t *ret_pid, int *ret_master, struct gdn_err **err);

/* --- tty.c: the console socket and the pty master ------------------------------------------ */
/* Creates /tmp/dadoo-XXXXXX/tty.sock, listening; *ret_dir and *ret_path are malloc'd. */
int dd_console_listen(char **ret_dir, char **ret_path, struct gdn_err **err);
/* Removes the directory made by dd_console_listen (NULL-safe). */
void dd_console_remove(const char *dir);
/* Accepts the runtime's connection (non-blocking; -EAGAIN if none yet) and receives the master. */
int dd_console_receive(int lfd, struct gdn_err **err);
/* Sets ONLCR and the window size; returns the VEOF character in *ret_veof. */
int dd_tty_setup(int master, unsigned columns, unsigned rows, unsigned char *ret_veof,
		 struct gdn_err **err);
int dd_tty_resize(int master, unsigned columns, unsigned rows);
/* consoleSize of process.json (width, height), 80x24 if absent or zero. */
void dd_console_size(const char *process_json, unsigned *ret_columns, unsigned *ret_rows);

/* --- loop.c: the event loop ------------------------------------------------------------------ */
int dd_loop_init(struct dd_state *s, struct gdn_err **err);
/* Runs until the exit status is delivered (or retained long enough) and attachments are done. */
int dd_loop_run(struct dd_state *s, struct gdn_err **err);
/* gdn_loop_watch / gdn_loop_close on s->loop, with a failure logged. */
void dd_watch_set(struct dd_state *s, struct gdn_watch *w, uint32_t events);
void dd_watch_close(struct dd_state *s, struct gdn_watch *w);
void dd_signal_process(struct dd_state *s, int sig);
/* The watch callbacks (w->data is the owner: a dd_client, a dd_attach, or NULL for s's own). */
void dd_on_listen(struct gdn_loop *l, struct gdn_watch *w, uint32_t events);
void dd_on_client(struct gdn_loop *l, struct gdn_watch *w, uint32_t events);
void dd_on_source(struct gdn_loop *l, struct gdn_watch *w, uint32_t events);
void dd_on_stdin(struct gdn_loop *l, struct gdn_watch *w, uint32_t events);
void dd_on_control(struct gdn_loop *l, struct gdn_watch *w, uint32_t events);
void dd_on_stream(struct gdn_loop *l, struct gdn_watch *w, uint32_t events);

/* --- stdio.c: the process's stdin ------------------------------------------------------------ */
/* Writes what it can at once, queues the rest on the attachment. */
void dd_stdin_write(struct dd_state *s, struct dd_attach *a, const char *data, size_t len);
/* Writes queued stdin of every attachment (on EPOLLOUT). */
void dd_stdin_flush(struct dd_state *s);
/* Closes stdin (TTY: queues the VEOF character). */
void dd_stdin_close(struct dd_state *s, struct dd_attach *a);
bool dd_stdin_pending(const struct dd_state *s);

/* --- attach.c: attachments, their control and stream connections --------------------------- */
/* Takes over the fds (control, lease) whatever the result. */
int dd_attach_new(struct dd_state *s, const struct dd_request *req, int *fds, size_t nfds,
		  struct dd_attach **ret, struct gdn_err **err);
/* Starts the attachment dd_attach_new made: writes its head and first payload, and handles
 * what guardian read past the request. */
void dd_attach_begin(struct dd_state *s, struct dd_attach *a);
/* Hands a stream connection to its attachment, or answers it with the head and EOF. */
void dd_attach_stream(struct dd_state *s, const struct dd_request *req, int conn);
void dd_attach_on_control(struct dd_state *s, struct dd_attach *a, uint32_t events);
void dd_attach_on_stream(struct dd_state *s, struct dd_attach *a, int i, uint32_t events);
/* Resumes payloads held back while stdin data was pending. */
void dd_attach_process_all(struct dd_state *s);
/* Writes what the streams hold. */
void dd_attach_flush_all(struct dd_state *s);
/* Sends the exit status to every active attachment. */
void dd_attach_finish_all(struct dd_state *s);
/* Closes what is done and frees finished attachments. */
void dd_attach_gc(struct dd_state *s, uint64_t now);
/* Recomputes the epoll interest of attachments. */
void dd_attach_rearm(struct dd_state *s);
void dd_attach_free_all(struct dd_state *s);

/* --- server.c: dadoo.sock ------------------------------------------------------------------- */
int dd_server_listen(struct dd_state *s, struct gdn_err **err);
void dd_server_on_listen(struct dd_state *s);
/* Serves fd (a connected SEQPACKET socket, e.g. the --standby job socket) like an accepted one;
 * closes it on failure. */
void dd_server_adopt(struct dd_state *s, int fd);
void dd_server_on_client(struct dd_state *s, struct dd_client *c, uint32_t events);
void dd_server_gc(struct dd_state *s);
void dd_server_close(struct dd_state *s);

/* --- exit.c: the end of the process and of dadoo -------------------------------------------- */
/* Makes the exitcode file unnamed ahead of time (s->exitcode_fd; -1 if that fails). */
void dd_exit_prepare(struct dd_state *s);
/* Records the exit status (exitcode) and tells the attachments, once the process has exited and
 * its output is drained. */
void dd_exit_check(struct dd_state *s, uint64_t now);
bool dd_exit_should_quit(const struct dd_state *s, uint64_t now);
uint64_t dd_exit_deadline(const struct dd_state *s);
/* Removes dadoo.sock and dadoo.pid. */
void dd_exit_remove_files(struct dd_state *s);
/* Removes the whole process dir (--cleanup-on-wait, after the status was delivered). */
void dd_exit_remove_dir(struct dd_state *s);
