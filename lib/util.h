/* Numbers, UUIDs, time, and JSON helpers that every binary needs. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <jansson.h>

/* Whole-string decimal parsers (no sign for unsigned, no whitespace). 0 or -EINVAL/-ERANGE. */
int gdn_parse_u64(const char *s, uint64_t *ret);
int gdn_parse_i64(const char *s, int64_t *ret);
int gdn_parse_u32(const char *s, uint32_t *ret);
/* The value of a hexadecimal digit (either case), or -1. */
int gdn_hex_digit(char c);

/* s without its leading spaces and tabs and its trailing spaces, tabs, CRs and LFs (cut in
 * place). */
char *gdn_str_trim(char *s);

/* A random UUIDv4 string (36 chars + NUL) from getrandom(2). */
void gdn_uuid_v4(char out[37]);

/* CLOCK_MONOTONIC / CLOCK_REALTIME in nanoseconds. */
uint64_t gdn_now_mono_ns(void);
uint64_t gdn_now_real_ns(void);

/* Case-insensitive object member lookup, exact match preferred. Request bodies and other Go
 * JSON go through lib/gojson, which follows Go's decoder exactly (the last match wins). */
json_t *gdn_json_get(const json_t *obj, const char *key);
/* A JSON integer for any uint64: values above INT64_MAX (which jansson cannot hold) become a
 * private stand-in that gdn_json_line prints as the exact digits. Other encoders do not know
 * it: documents holding one must be written with gdn_json_line. NULL on ENOMEM. */
json_t *gdn_json_u64(uint64_t v);
/* The value of a non-negative json integer or of a gdn_json_u64 stand-in: 0, -EINVAL, -ERANGE. */
int gdn_json_u64_value(const json_t *v, uint64_t *ret);
/* Compact encoding plus '\n', malloc'd; NULL on error. */
char *gdn_json_line(const json_t *v, size_t *ret_len);
