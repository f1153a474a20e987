/* StreamIn / StreamOut (protocol §4.11-4.12): the handlers (handlers_files.c) and the worker that
 * runs nstar and moves the archive between the connection and nstar's pipes (files_stream.c). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include "lib/buf.h"
#include "lib/http.h"
#include "cmd/guardian/config.h"

struct gd_conn;

/* Whether the request's body is a stream the route reads itself (StreamIn): the server then
 * routes it once the head is in, with whatever of the body came along left in c->in. */
bool gd_files_streams_body(const struct gd_conn *c);

struct gd_server;
/* Ends the streams of a container that is being destroyed (their workers are killed; a
 * StreamIn is answered with the error, a StreamOut's connection closed), so that no stream
 * writes into a volume that destroy removes. */
void gd_files_cancel(struct gd_server *s, const char *handle);

/* One StreamIn or StreamOut, run by a worker (gd_files_run). */
struct gd_files_job {
	bool in;
	char *handle;
	char *user; /* "" for root */
	char *path; /* destination or source */
	bool privileged;
	int sock; /* a duplicate of the client's connection (the worker writes and reads it) */
	/* stream-in: the body's framing and what of it the loop had read already */
	struct gdn_buf pending;
	bool chunked;
	uint64_t length;
};

void gd_files_job_free(void *p);
/* The worker's fn (gd_worker_fn). Stream-in: answers nothing (the loop replies {} or the error
 * once the worker is done). Stream-out: writes the response itself once nstar's first bytes are
 * there and sets {"streamed":true} in its result; before that, an error is returned for the loop
 * to answer. */
int gd_files_run(const struct gd_config *cfg, void *arg, struct gdn_log *log, struct gdn_err **err);
