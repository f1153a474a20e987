/* Decoding JSON the way Go's encoding/json does, for request bodies (garden's ContainerSpec,
 * ProcessSpec, ...) and, later, what image and network plugins answer.
 *
 * gdn_gojson_decode reads one value like json.NewDecoder(r).Decode: an empty body is "EOF",
 * bytes after the first value are not looked at. Numbers keep their literal, so every uint64
 * (up to 18446744073709551615) and every int64 decodes exactly, and type errors name the number
 * as Go prints it. Strings are UTF-8; invalid bytes and lone surrogates become U+FFFD, as in
 * Go. Members are found as Go's decoder assigns struct fields: the name compared
 * case-insensitively, a null member leaves the field as it was, and the last matching member
 * wins. Unknown members are ignored.
 *
 * The getters take the Go struct's name (`owner`) and the JSON field name (`key`) only to word
 * errors exactly as Go does:
 *   json: cannot unmarshal number -1 into Go struct field Limits.memory of type uint64
 *   json: cannot unmarshal string into Go struct field ProcessSpec.args of type []string */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "lib/err.h"

enum gdn_gojson_kind {
	GDN_GOJSON_NULL = 0,
	GDN_GOJSON_BOOL,
	GDN_GOJSON_NUMBER,
	GDN_GOJSON_STRING,
	GDN_GOJSON_ARRAY,
	GDN_GOJSON_OBJECT,
};

struct gdn_gojson {
	enum gdn_gojson_kind kind;
	bool boolean;
	char *text;  /* STRING: the decoded value; NUMBER: the literal as written. NUL-terminated */
	size_t len;  /* of text (a string may hold NUL bytes from \u0000) */
	size_t n;    /* ARRAY: items; OBJECT: members */
	char **keys; /* OBJECT: member names (decoded; a name holding NUL is stored cut at it) */
	struct gdn_gojson **items;
};

/* Nesting deeper than this is refused, as Go's scanner does. */
#define GDN_GOJSON_MAX_DEPTH 10000

/* One value from body. Syntax errors read "invalid JSON: <Go's scanner message>", e.g.
 * "invalid JSON: unexpected EOF". Free *ret with gdn_gojson_free. */
int gdn_gojson_decode(const char *body, size_t len, struct gdn_gojson **ret, struct gdn_err **err);
void gdn_gojson_free(struct gdn_gojson *v);
static inline void gdn_gojson_freep(struct gdn_gojson **v)
{
	gdn_gojson_free(*v);
}
#define _cleanup_gojson_ _cleanup_(gdn_gojson_freep)

/* "object", "array", "string", "number", "bool" or "null", as Go's errors name them. */
const char *gdn_gojson_kind_name(const struct gdn_gojson *v);

/* The member Go would assign to field `key` (see above); NULL when absent or null, or when obj
 * is not an object. */
const struct gdn_gojson *gdn_gojson_member(const struct gdn_gojson *obj, const char *key);

/* "json: cannot unmarshal <what> into Go struct field <owner>.<field> of type <gotype>", where
 * <what> is "number <literal>" for a number and a numeric gotype (uint*, int*, time.Duration),
 * else the kind of v. Returns -EINVAL. */
int gdn_gojson_type_err(struct gdn_err **err, const char *owner, const char *field,
			const struct gdn_gojson *v, const char *gotype);
/* The same for a top-level value: "json: cannot unmarshal <what> into Go value of type <gotype>".
 */
int gdn_gojson_value_err(struct gdn_err **err, const struct gdn_gojson *v, const char *gotype);

/* A number's value as strconv.ParseUint(lit, 10, 64) / ParseInt(lit, 10, 64) would give it
 * (Go's decoder uses exactly these): no fraction, no exponent, in range. 0, -EINVAL (not an
 * integer literal, or not a number) or -ERANGE. */
int gdn_gojson_u64(const struct gdn_gojson *v, uint64_t *ret);
int gdn_gojson_i64(const struct gdn_gojson *v, int64_t *ret);

/* Typed getters. An absent (or null) member gives the zero value ("", false, 0, NULL, an empty
 * vector) and 0. A member of the wrong type or out of range gives Go's error. */
int gdn_gojson_get_str(const struct gdn_gojson *obj, const char *owner, const char *key,
		       const char **ret, struct gdn_err **err);
int gdn_gojson_get_bool(const struct gdn_gojson *obj, const char *owner, const char *key, bool *ret,
			struct gdn_err **err);
/* max: UINT64_MAX, UINT32_MAX or UINT16_MAX; gotype names the Go type for errors. */
int gdn_gojson_get_uint(const struct gdn_gojson *obj, const char *owner, const char *key,
			uint64_t max, const char *gotype, uint64_t *ret, struct gdn_err **err);
int gdn_gojson_get_u64(const struct gdn_gojson *obj, const char *owner, const char *key,
		       uint64_t *ret, struct gdn_err **err);
int gdn_gojson_get_u32(const struct gdn_gojson *obj, const char *owner, const char *key,
		       uint32_t *ret, struct gdn_err **err);
int gdn_gojson_get_u16(const struct gdn_gojson *obj, const char *owner, const char *key,
		       uint16_t *ret, struct gdn_err **err);
/* gotype: "int64", "time.Duration", ... */
int gdn_gojson_get_i64(const struct gdn_gojson *obj, const char *owner, const char *key,
		       const char *gotype, int64_t *ret, struct gdn_err **err);
int gdn_gojson_get_obj(const struct gdn_gojson *obj, const char *owner, const char *key,
		       const char *gotype, const struct gdn_gojson **ret, struct gdn_err **err);
int gdn_gojson_get_arr(const struct gdn_gojson *obj, const char *owner, const char *key,
		       const char *gotype, const struct gdn_gojson **ret, struct gdn_err **err);
/* A []string as a malloc'd NULL-terminated vector (free with gdn_strv_free), never NULL on
 * success. A string holding NUL is refused: it cannot become a C string. */
int gdn_gojson_get_strv(const struct gdn_gojson *obj, const char *owner, const char *key,
			char ***ret, struct gdn_err **err);
/* A string value (an array item, a map value) as a C string: Go's type error when v is not a
 * string, EINVAL when it holds NUL. */
int gdn_gojson_str(const struct gdn_gojson *v, const char *owner, const char *field,
		   const char **ret, struct gdn_err **err);

/* The end (index past it) of the JSON value that starts at s[i] in text that
 * gdn_gojson_decode accepted: for callers that rewrite or slice such text (the network plugin's
 * output, netplugin-shim's UpInputs). Only the structure is followed. */
size_t gdn_gojson_value_end(const char *s, size_t len, size_t i);

/* A decoded value as jansson (numbers as integers when they fit int64 or uint64, else reals),
 * for what is forwarded as it came: NetOutRules go on to the networker, which checks them.
 * NULL when out of memory. */
json_t *gdn_gojson_to_json(const struct gdn_gojson *v);
