/* A growable byte buffer. */
#pragma once

#include <stddef.h>
#include "lib/macro.h"

struct gdn_buf {
	char *data; /* always NUL-terminated when non-NULL (the NUL is not counted in len) */
	size_t len;
	size_t cap;
};

/* All return 0 or -ENOMEM. */
int gdn_buf_append(struct gdn_buf *b, const void *data, size_t len);
int gdn_buf_puts(struct gdn_buf *b, const char *s);
int gdn_buf_printf(struct gdn_buf *b, const char *fmt, ...) GDN_PRINTF(2, 3);
/* Drops the first n bytes. */
void gdn_buf_consume(struct gdn_buf *b, size_t n);
void gdn_buf_reset(struct gdn_buf *b); /* len = 0, keeps memory */
void gdn_buf_free(struct gdn_buf *b);  /* frees memory, zeroes the struct */
/* Hands the data to the caller (NUL-terminated, maybe NULL if empty) and zeroes the struct. */
char *gdn_buf_steal(struct gdn_buf *b, size_t *ret_len);
static inline void gdn_buf_freep(struct gdn_buf *b)
{
	gdn_buf_free(b);
}
#define _cleanup_buf_ _cleanup_(gdn_buf_freep)
