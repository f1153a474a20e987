/* A daemon guardian runs beside itself (kawasaki, image-plugin-shim): started before the depot
 * is restored, watched through a pidfd, restarted a second after it dies, and told to stop
 * (SIGTERM via PR_SET_PDEATHSIG) when guardian dies. Or, when guardian was told the socket of
 * one started separately (BPM), only waited for. Either way start-up waits (at most 10 s) until
 * it answers a `ping` on its SEQPACKET socket. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "lib/err.h"
#include "lib/loop.h"
#include "cmd/guardian/config.h"

struct gd_server;

#define GD_DAEMON_ARGS_MAX 320

/* The daemon's command line, rebuilt at every (re)start from the configuration. */
struct gd_daemon_argv {
	const char *v[GD_DAEMON_ARGS_MAX + 1];
	size_t n;
	char numbers[8][24]; /* room for the numeric arguments it formats */
};

struct gd_daemon {
	union {
		struct gdn_watch w;
		int pidfd;
	};
	pid_t pid;
	struct gdn_timer restart;
	unsigned restarts;
	bool wanted; /* guardian runs its own */
	struct gd_server *srv;
	/* set by the owner before gd_daemon_start */
	const char *name; /* for logs and messages: "kawasaki" */
	const char *bin;  /* NULL: none found (missing says what to do) */
	const char *missing;
	const char *socket; /* where it answers */
	int ping_v;	    /* the version of its ping */
	void (*build_argv)(const struct gd_config *cfg, struct gd_daemon_argv *a);
};

/* Prepares d (its watch and timer): always, used or not (workers close its pidfd). */
void gd_daemon_init(struct gd_server *s, struct gd_daemon *d);
/* Starts it when `run_own` (else it is one started separately), and waits until it answers. */
int gd_daemon_start(struct gd_server *s, struct gd_daemon *d, bool run_own, struct gdn_err **err);
/* SIGTERM and reap (guardian's graceful shutdown). */
void gd_daemon_stop(struct gd_server *s, struct gd_daemon *d);
