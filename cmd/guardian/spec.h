/* Decoding a Create request body (garden ContainerSpec, protocol §9.1) the way Go's decoder
 * would (case-insensitive keys, unknown keys ignored, null = absent), plus guardian's own
 * validation. Errors carry Go-style messages and change nothing. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include "lib/err.h"
#include "cmd/guardian/config.h"
#include "cmd/guardian/container.h"

/* On success *ret is filled (free with gd_spec_free) and *ret_grace_ns is the effective grace
 * time (the spec's, else the server default). spec->properties includes garden.grace-time when
 * the grace time is non-zero. */
int gd_spec_parse(const struct gd_config *cfg, const char *body, size_t len,
		  struct gd_create_spec *ret, uint64_t *ret_grace_ns, struct gdn_err **err);
void gd_spec_free(struct gd_create_spec *s);

/* Decodes a request body that must be one JSON value (Go: json.NewDecoder(r).Decode).
 * An empty body is the error "EOF". */
int gd_json_decode(const char *body, size_t len, json_t **ret, struct gdn_err **err);

/* "json: cannot unmarshal <kind> into Go struct field <owner>.<field> of type <gotype>" */
int gd_json_type_err(struct gdn_err **err, const char *owner, const char *field, const json_t *v,
		     const char *gotype);
