/* Linux capability names, as the OCI runtime spec spells them ("CAP_CHOWN"). */
#pragma once

#include <stdint.h>

/* Highest capability number the name table knows (CAP_CHECKPOINT_RESTORE). */
#define GD_CAP_LAST 40

/* "CAP_<NAME>" for 0..GD_CAP_LAST, NULL otherwise. */
const char *gd_cap_name(unsigned cap);

/* Capability number for a "CAP_<NAME>" (or "<NAME>", case-insensitive); -EINVAL if unknown. */
int gd_cap_from_name(const char *name);

/* The set of capabilities Garden gives unprivileged containers (internals §4.2). */
uint64_t gd_caps_unprivileged(void);

/* Every capability in the name table. */
uint64_t gd_caps_all(void);
