/* guardian's side of the dadoo socket (docs/PROCESSES.md): connecting to a process's shim,
 * one request/reply exchange, and killing shims at destroy. */
#pragma once

#include <jansson.h>
#include "lib/err.h"
#include "lib/log.h"

/* <container dir>/processes/<id> (malloc'd). */
char *gd_process_dir(const char *container_dir, const char *id);

/* Connects to <process dir>/dadoo.sock (through /proc/self/fd, so long paths work).
 * -ECONNREFUSED / -ENOENT mean the shim is gone. */
int gd_dadoo_connect(const char *process_dir, struct gdn_err **err);

/* Sends one request with fds and waits (at most 5 s) for dadoo's reply packet. Returns 0 on
 * {"ok":true} (with *ret_reply if non-NULL), or the error dadoo answered. */
int gd_dadoo_request(int sock, json_t *req, const int *fds, size_t nfds, json_t **ret_reply,
		     struct gdn_err **err);

/* SIGKILLs the dadoo of every process of the container (pid from dadoo.pid, trusted only if
 * /proc/<pid>/cmdline is a dadoo serving that process dir) and waits for each to go. */
void gd_dadoo_kill_all(const char *container_dir, struct gdn_log *log);
