/* guardian's side of kawasaki's socket (kawasaki(8)): blocking requests, from a worker
 * process. A kawasaki that guardian is restarting is waited for (a few seconds), so a create
 * that meets the restart succeeds. */
#pragma once

#include <jansson.h>
#include "lib/err.h"
#include "cmd/guardian/config.h"

#define GD_KAWASAKI_VERSION 1
#define GD_KAWASAKI_CONNECT_WAIT_MS 10000

/* Sends req (with fd as SCM_RIGHTS when >= 0) and returns the reply (ok) in *ret_reply (may be
 * NULL), or the error kawasaki answered. */
int gd_kawasaki_call(const struct gd_config *cfg, json_t *req, int fd, json_t **ret_reply,
		     struct gdn_err **err);

/* The two halves of gd_kawasaki_call, for a worker with other work to do while kawasaki
 * answers. Sends req on sock, or on a new connection when sock < 0 (*ret_sock gets it; the
 * caller closes it). */
int gd_kawasaki_send(const struct gd_config *cfg, int sock, json_t *req, int fd, int *ret_sock,
		     struct gdn_err **err);

/* Waits for the reply to the request sent last on sock: 0 (the reply in *ret_reply, may be
 * NULL) when it is ok, else the error kawasaki answered. */
int gd_kawasaki_reply(const struct gd_config *cfg, int sock, json_t **ret_reply,
		      struct gdn_err **err);
