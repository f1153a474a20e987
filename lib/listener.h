/* A daemon's listening SEQPACKET socket in its event loop (the shims'): bound, watched, and on
 * close unlinked only if the file is still the one it bound (another server may have replaced
 * it meanwhile). */
#pragma once

#include <sys/types.h>
#include "lib/err.h"
#include "lib/loop.h"

struct gdn_listener {
	struct gdn_watch watch; /* gdn_watch_init it (fd -1, callback) before opening */
	const char *path;
	dev_t dev;
	ino_t ino;
};

/* Listens at `path` with `mode`, non-blocking, and watches it for EPOLLIN. */
int gdn_listener_open(struct gdn_loop *loop, struct gdn_listener *l, const char *path,
		      unsigned mode, struct gdn_err **err);

/* Stops watching and closes it, and removes the socket file if it is still ours. Idempotent. */
void gdn_listener_close(struct gdn_loop *loop, struct gdn_listener *l);
