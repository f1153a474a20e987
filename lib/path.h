/* Validation of names that become paths. */
#pragma once

#include "lib/err.h"

#define GDN_HANDLE_MAX 128

/* A handle or process id: 1..GDN_HANDLE_MAX bytes of [A-Za-z0-9._+-] (the runtimes' container-ID
 * charset), not "." or "..".
 * Anything else is rejected with a Garden-style message naming the value. `what` is "handle" or
 * "process ID" and appears in the message. */
int gdn_name_validate(const char *what, const char *name, struct gdn_err **err);

/* "a" + "/" + "b" (malloc'd); NULL on ENOMEM. */
char *gdn_path_join(const char *a, const char *b);
