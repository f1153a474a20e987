/* Running a child to completion (plugins, runtimes, one-shot tools), built on gdn_spawn: its
 * stdin fed from a buffer, stdout and stderr captured separately (each bounded), a deadline,
 * and its stderr re-logged as our own lines the way Garden's relogger does. Blocking: poll over
 * the pipes and a pidfd, for workers and one-shot tools. Whatever goes wrong, the child is
 * SIGKILLed and reaped before gdn_run returns: no zombie, no orphan, no fd left open. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "lib/err.h"
#include "lib/log.h"
#include "lib/proc.h"

/* Default bound of each captured stream; what comes past it is read and dropped. */
#define GDN_RUN_OUTPUT_MAX (64 * 1024)

/* A child owned by a scope (crun's cleanup_pid): if the scope ends while it is still owned, it is
 * SIGKILLed and reaped. */
struct gdn_child {
	pid_t pid;  /* 0: none */
	int pidfd;  /* -1: none */
	bool group; /* it leads its own process group (spawned with setsid): kill the group too */
};

#define GDN_CHILD_INIT                                                                             \
	{                                                                                          \
		.pid = 0, .pidfd = -1, .group = false                                              \
	}

/* SIGKILLs and reaps the child if there is one (with its process group, if it leads one: what
 * it forked dies with it), closes its pidfd and resets *c. */
void gdn_child_kill(struct gdn_child *c);
#define _cleanup_child_ _cleanup_(gdn_child_kill)

/* Starts a child as gdn_spawn does (not detached) and makes *c its owner; with o->setsid it
 * leads a process group of its own, which gdn_child_kill kills as a whole. */
int gdn_child_spawn(struct gdn_child *c, const struct gdn_spawn_opts *o, struct gdn_err **err);

/* Waits for the child until `deadline_ns` (CLOCK_MONOTONIC, 0: none). Returns 0 with its status
 * in shell form (exit code, or 128+signal) once it has exited, and reaps and resets *c; returns
 * -ETIMEDOUT (without *err) when the deadline passed first, with the child still owned. */
int gdn_child_wait(struct gdn_child *c, uint64_t deadline_ns, int *ret_status,
		   struct gdn_err **err);

struct gdn_run_opts {
	/* the child; its stdin_fd/stdout_fd/stderr_fd serve for each stream that is not fed or
	 * captured below (-1: /dev/null, as for gdn_spawn) */
	const struct gdn_spawn_opts *spawn;
	/* non-NULL: stdin is a pipe fed these bytes and then closed (a child that stops reading
	 * early is fine) */
	const char *stdin_data;
	size_t stdin_len;
	bool capture_stdout;
	bool capture_stderr;
	/* stderr goes to the stdout capture too, interleaved as written (needs capture_stdout) */
	bool merge_stderr;
	size_t output_max;   /* bound per captured stream; 0: GDN_RUN_OUTPUT_MAX */
	uint64_t timeout_ns; /* 0: none; with spawn->setsid its whole process group is killed */
	/* non-NULL: every line of the child's stderr is re-logged here (gdn_run_relog_line) as
	 * it arrives; it is captured as well if capture_stderr is set */
	struct gdn_log *relog;
};

struct gdn_run_result {
	int status; /* exit code, or 128+signal */
	char *out;  /* captured stdout, NUL-terminated; NULL when not captured */
	size_t out_len;
	char *err; /* captured stderr, likewise */
	size_t err_len;
	bool out_truncated, err_truncated; /* output past output_max was dropped */
};

void gdn_run_result_free(struct gdn_run_result *r);
#define _cleanup_run_result_ _cleanup_(gdn_run_result_free)

/* Runs o->spawn to completion. Returns 0 with *ret filled when the child exited, whatever its
 * status. Returns -ETIMEDOUT (with "'<path>' did not exit within <N> ms" in *err) when it did
 * not exit within o->timeout_ns: it was SIGKILLed and reaped, *ret holds what it wrote until
 * then and status 137. Any other -errno: it could not be started or watched, and was killed and
 * reaped if it had started. Once the child has exited, what is left in the pipes is read, but
 * not waited for: a grandchild that holds them open does not keep gdn_run waiting. */
int gdn_run(const struct gdn_run_opts *o, struct gdn_run_result *ret, struct gdn_err **err);

/* Re-logs one line of a child's stderr as Garden's relogger does (guardian imageplugin/relogger.go
 * over lager's chug): a line holding, from its first '{', a lager JSON object (the RFC3339
 * "level":"info" form or the epoch "log_level":1 form, with a valid timestamp) is logged at its
 * level under its own message, with its data (less "session" and "trace") plus
 * "original_timestamp"; an "error" member of an error or fatal line stays in data.error. Any
 * other non-empty line is logged at error level as action "error" with {"output":"<line>"}. */
void gdn_run_relog_line(struct gdn_log *l, const char *line, size_t len);
