/* Garden's seccomp profile for unprivileged containers (OCI linux.seccomp). */
#pragma once

#include <jansson.h>

/* The profile (a new reference; NULL when out of memory). Never change it: it is shared. */
json_t *gd_seccomp_profile(void);
