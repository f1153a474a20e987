/* Go-compatible JSON decoding: see gojson.h. The scanner's messages are Go's
 * (encoding/json/scanner.go), so a client sees the words a real guardian would send. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/gojson.h"
#include "lib/util.h"

struct parser {
	const unsigned char *p, *end;
	char msg[96]; /* the first syntax error */
};

static bool is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void skip_ws(struct parser *ps)
{
	while (ps->p < ps->end && is_ws(*ps->p))
		ps->p++;
}

/* Go's quoteChar: 'x', '\'', '"', or the strconv.Quote form ('\n', '\x00', '\u0080'). A byte
 * >= 0x80 is quoted as the rune U+00XX, as Go converts it. */
static void quote_char(unsigned char c, char *out, size_t n)
{
	static const char esc_in[] = "\a\b\t\n\v\f\r", esc_out[] = "abtnvfr";
	const char *e = c ? strchr(esc_in, c) : NULL;

	if (c == '\'')
		(void)snprintf(out, n, "'\\''");
	else if (c == '\\')
		(void)snprintf(out, n, "'\\\\'");
	else if (e)
		(void)snprintf(out, n, "'\\%c'", esc_out[e - esc_in]);
	else if (c < 0x20 || c == 0x7f)
		(void)snprintf(out, n, "'\\x%02x'", c);
	else if ((c >= 0x80 && c <= 0xa0) || c == 0xad)
		(void)snprintf(out, n, "'\\u%04x'", c);
	else if (c >= 0x80)
		(void)snprintf(out, n, "'%c%c'", 0xc0 | (c >> 6), 0x80 | (c & 0x3f));
	else
		(void)snprintf(out, n, "'%c'", c);
}

/* Records a syntax error at the current byte ("invalid character ... <context>"), or
 * "unexpected EOF" at the end of the input. Returns NULL for the caller to pass on. */
static struct gdn_gojson *fail(struct parser *ps, const char *context)
{
	char q[16];

	if (ps->msg[0])
		return NULL;
	if (ps->p >= ps->end) {
		(void)snprintf(ps->msg, sizeof(ps->msg), "unexpected EOF");
		return NULL;
	}
	quote_char(*ps->p, q, sizeof(q));
	(void)snprintf(ps->msg, sizeof(ps->msg), "invalid character %s %s", q, context);
	return NULL;
}

static struct gdn_gojson *node(enum gdn_gojson_kind kind)
{
	struct gdn_gojson *v = calloc(1, sizeof(*v));

	if (v)
		v->kind = kind;
	return v;
}

static struct gdn_gojson *oom(struct parser *ps)
{
	if (!ps->msg[0])
		(void)snprintf(ps->msg, sizeof(ps->msg), "out of memory");
	return NULL;
}

static struct gdn_gojson *parse_value(struct parser *ps, unsigned depth);

static struct gdn_gojson *parse_literal(struct parser *ps, const char *word)
{
	struct gdn_gojson *v;
	char ctx[48];

	for (size_t i = 0; word[i]; i++, ps->p++) {
		if (ps->p >= ps->end || *ps->p != (unsigned char)word[i]) {
			(void)snprintf(ctx, sizeof(ctx), "in literal %s (expecting '%c')", word,
				       word[i]);
			return fail(ps, ctx);
		}
	}
	v = node(word[0] == 'n' ? GDN_GOJSON_NULL : GDN_GOJSON_BOOL);
	if (!v)
		return oom(ps);
	v->boolean = word[0] == 't';
	return v;
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static struct gdn_gojson *parse_number(struct parser *ps)
{
	const unsigned char *start = ps->p;
	struct gdn_gojson *v;

	if (*ps->p == '-') {
		ps->p++;
		if (ps->p >= ps->end || !is_digit(*ps->p))
			return fail(ps, "in numeric literal");
	}
	if (*ps->p == '0')
		ps->p++;
	else
		while (ps->p < ps->end && is_digit(*ps->p))
			ps->p++;
	if (ps->p < ps->end && *ps->p == '.') {
		ps->p++;
		if (ps->p >= ps->end || !is_digit(*ps->p))
			return fail(ps, "after decimal point in numeric literal");
		while (ps->p < ps->end && is_digit(*ps->p))
			ps->p++;
	}
	if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
		ps->p++;
		if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
			ps->p++;
		if (ps->p >= ps->end || !is_digit(*ps->p))
			return fail(ps, "in exponent of numeric literal");
		while (ps->p < ps->end && is_digit(*ps->p))
			ps->p++;
	}
	v = node(GDN_GOJSON_NUMBER);
	if (!v)
		return oom(ps);
	v->len = (size_t)(ps->p - start);
	v->text = strndup((const char *)start, v->len);
	if (!v->text) {
		free(v);
		return oom(ps);
	}
	return v;
}

static bool is_hex(unsigned char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int hex4(const unsigned char *p, const unsigned char *end)
{
	int v = 0;

	if (end - p < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		unsigned char c = p[i];
		int d = is_digit(c)		 ? c - '0'
			: (c >= 'a' && c <= 'f') ? c - 'a' + 10
			: (c >= 'A' && c <= 'F') ? c - 'A' + 10
						 : -1;
		if (d < 0)
			return -1;
		v = v << 4 | d;
	}
	return v;
}

static size_t put_utf8(char *o, unsigned r)
{
	if (r < 0x80) {
		o[0] = (char)r;
		return 1;
	}
	if (r < 0x800) {
		o[0] = (char)(0xc0 | r >> 6);
		o[1] = (char)(0x80 | (r & 0x3f));
		return 2;
	}
	if (r < 0x10000) {
		o[0] = (char)(0xe0 | r >> 12);
		o[1] = (char)(0x80 | ((r >> 6) & 0x3f));
		o[2] = (char)(0x80 | (r & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | r >> 18);
	o[1] = (char)(0x80 | ((r >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((r >> 6) & 0x3f));
	o[3] = (char)(0x80 | (r & 0x3f));
	return 4;
}

/* Length of the valid UTF-8 sequence at p (Go's utf8.DecodeRune rules: no overlong forms, no
 * surrogates, nothing above U+10FFFF), or 0. */
static size_t utf8_valid(const unsigned char *p, const unsigned char *end)
{
	size_t n = (size_t)(end - p);
	unsigned char c = p[0];

	if (c >= 0xc2 && c <= 0xdf)
		return n >= 2 && (p[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		unsigned char lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
		return n >= 3 && p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 ? 3 : 0;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		unsigned char lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
		return n >= 4 && p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 &&
			       (p[3] & 0xc0) == 0x80
			   ? 4
			   : 0;
	}
	return 0;
}

/* A string literal at ps->p (the opening quote); the decoded bytes into a malloc'd buffer. */
static char *parse_string(struct parser *ps, size_t *ret_len)
{
	const unsigned char *q = ps->p + 1;
	char *out, *o;

	/* first pass: find the closing quote and check the syntax */
	for (;;) {
		if (q >= ps->end) {
			ps->p = q;
			return (char *)fail(ps, "");
		}
		if (*q == '"')
			break;
		if (*q < 0x20) {
			ps->p = q;
			return (char *)fail(ps, "in string literal");
		}
		if (*q == '\\') {
			q++;
			if (q >= ps->end) {
				ps->p = q;
				return (char *)fail(ps, "");
			}
			if (*q == 'u') {
				for (int i = 1; i <= 4; i++) {
					if (q + i >= ps->end || !is_hex(q[i])) {
						ps->p = q + i;
						return (char *)fail(
						    ps, "in \\u hexadecimal character escape");
					}
				}
				q += 4;
			} else if (*q == '\0' || !strchr("\"\\/bfnrt", *q)) {
				ps->p = q;
				return (char *)fail(ps, "in string escape code");
			}
		}
		q++;
	}
	/* at most 3 bytes out per byte in (an invalid byte becomes U+FFFD) */
	out = malloc((size_t)(q - ps->p) * 3 + 1);
	if (!out)
		return (char *)oom(ps);
	o = out;
	for (const unsigned char *s = ps->p + 1; s < q;) {
		if (*s == '\\') {
			int r;

			s++;
			switch (*s) {
			case 'b':
				*o++ = '\b';
				break;
			case 'f':
				*o++ = '\f';
				break;
			case 'n':
				*o++ = '\n';
				break;
			case 'r':
				*o++ = '\r';
				break;
			case 't':
				*o++ = '\t';
				break;
			case 'u':
				r = hex4(s + 1, q);
				s += 4;
				if (r >= 0xd800 && r < 0xe000) {
					int r2 =
					    r < 0xdc00 && s + 2 < q && s[1] == '\\' && s[2] == 'u'
						? hex4(s + 3, q)
						: -1;
					if (r2 >= 0xdc00 && r2 < 0xe000) {
						r = 0x10000 + ((r - 0xd800) << 10) + (r2 - 0xdc00);
						s += 6;
					} else {
						r = 0xfffd;
					}
				}
				o += put_utf8(o, (unsigned)r);
				break;
			default: /* " \ / */
				*o++ = (char)*s;
				break;
			}
			s++;
		} else if (*s < 0x80) {
			*o++ = (char)*s++;
		} else {
			size_t n = utf8_valid(s, q);
			if (n == 0) {
				o += put_utf8(o, 0xfffd);
				s++;
			} else {
				memcpy(o, s, n);
				o += n;
				s += n;
			}
		}
	}
	*o = '\0';
	*ret_len = (size_t)(o - out);
	ps->p = q + 1;
	return out;
}

static int push(struct gdn_gojson *v, char *key, struct gdn_gojson *item)
{
	if ((v->n & (v->n - 1)) == 0) { /* grow at 0, 1, 2, 4, 8, ... */
		size_t cap = v->n ? v->n * 2 : 1;
		struct gdn_gojson **items = realloc(v->items, cap * sizeof(*items));
		if (!items)
			return -ENOMEM;
		v->items = items;
		if (v->kind == GDN_GOJSON_OBJECT) {
			char **keys = realloc(v->keys, cap * sizeof(*keys));
			if (!keys)
				return -ENOMEM;
			v->keys = keys;
		}
	}
	if (v->kind == GDN_GOJSON_OBJECT)
		v->keys[v->n] = key;
	v->items[v->n++] = item;
	return 0;
}

/* After a member of an array or object: 1 at ',' (another follows), 0 at `close` (the end),
 * -1 at anything else. */
static int list_next(struct parser *ps, char close)
{
	skip_ws(ps);
	if (ps->p < ps->end && (*ps->p == ',' || *ps->p == close))
		return *ps->p++ == ',';
	return -1;
}

static struct gdn_gojson *parse_array(struct parser *ps, unsigned depth)
{
	struct gdn_gojson *v = node(GDN_GOJSON_ARRAY);
	int r;

	if (!v)
		return oom(ps);
	ps->p++;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == ']') {
		ps->p++;
		return v;
	}
	for (;;) {
		struct gdn_gojson *item = parse_value(ps, depth + 1);
		if (!item || push(v, NULL, item) < 0) {
			gdn_gojson_free(item);
			gdn_gojson_free(v);
			return item ? oom(ps) : NULL;
		}
		r = list_next(ps, ']');
		if (r > 0)
			continue;
		if (r == 0)
			return v;
		gdn_gojson_free(v);
		return fail(ps, "after array element");
	}
}

static struct gdn_gojson *parse_object(struct parser *ps, unsigned depth)
{
	struct gdn_gojson *v = node(GDN_GOJSON_OBJECT);
	bool first = true;
	int r;

	if (!v)
		return oom(ps);
	ps->p++;
	for (;;) {
		struct gdn_gojson *item;
		size_t klen;
		char *key;

		skip_ws(ps);
		if (first && ps->p < ps->end && *ps->p == '}') {
			ps->p++;
			return v;
		}
		first = false;
		if (ps->p >= ps->end || *ps->p != '"') {
			gdn_gojson_free(v);
			return fail(ps, "looking for beginning of object key string");
		}
		key = parse_string(ps, &klen);
		if (!key) {
			gdn_gojson_free(v);
			return NULL;
		}
		skip_ws(ps);
		if (ps->p >= ps->end || *ps->p != ':') {
			free(key);
			gdn_gojson_free(v);
			return fail(ps, "after object key");
		}
		ps->p++;
		item = parse_value(ps, depth + 1);
		if (!item || push(v, key, item) < 0) {
			free(key);
			gdn_gojson_free(item);
			gdn_gojson_free(v);
			return item ? oom(ps) : NULL;
		}
		r = list_next(ps, '}');
		if (r > 0)
			continue;
		if (r == 0)
			return v;
		gdn_gojson_free(v);
		return fail(ps, "after object key:value pair");
	}
}

static struct gdn_gojson *parse_value(struct parser *ps, unsigned depth)
{
	struct gdn_gojson *v;

	skip_ws(ps);
	if (ps->p >= ps->end)
		return fail(ps, "");
	switch (*ps->p) {
	case '{':
	case '[':
		if (depth >= GDN_GOJSON_MAX_DEPTH) {
			if (!ps->msg[0])
				(void)snprintf(ps->msg, sizeof(ps->msg), "exceeded max depth");
			return NULL;
		}
		return *ps->p == '{' ? parse_object(ps, depth) : parse_array(ps, depth);
	case '"':
		v = node(GDN_GOJSON_STRING);
		if (!v)
			return oom(ps);
		v->text = parse_string(ps, &v->len);
		if (!v->text) {
			free(v);
			return NULL;
		}
		return v;
	case 't':
		return parse_literal(ps, "true");
	case 'f':
		return parse_literal(ps, "false");
	case 'n':
		return parse_literal(ps, "null");
	default:
		if (*ps->p == '-' || is_digit(*ps->p))
			return parse_number(ps);
		return fail(ps, "looking for beginning of value");
	}
}

int gdn_gojson_decode(const char *body, size_t len, struct gdn_gojson **ret, struct gdn_err **err)
{
	struct parser ps = {.p = (const unsigned char *)body,
			    .end = (const unsigned char *)body + len};
	struct gdn_gojson *v;

	skip_ws(&ps);
	if (ps.p >= ps.end)
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL, "EOF");
	v = parse_value(&ps, 0);
	if (!v) {
		if (strcmp(ps.msg, "out of memory") == 0)
			return gdn_err_set(err, ENOMEM, "cannot decode JSON");
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL, "invalid JSON: %s", ps.msg);
	}
	*ret = v;
	return 0;
}

void gdn_gojson_free(struct gdn_gojson *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->n; i++) {
		gdn_gojson_free(v->items[i]);
		if (v->keys)
			free(v->keys[i]);
	}
	free(v->items);
	free(v->keys);
	free(v->text);
	free(v);
}

const char *gdn_gojson_kind_name(const struct gdn_gojson *v)
{
	switch (v ? v->kind : GDN_GOJSON_NULL) {
	case GDN_GOJSON_OBJECT:
		return "object";
	case GDN_GOJSON_ARRAY:
		return "array";
	case GDN_GOJSON_STRING:
		return "string";
	case GDN_GOJSON_NUMBER:
		return "number";
	case GDN_GOJSON_BOOL:
		return "bool";
	case GDN_GOJSON_NULL:
	default:
		return "null";
	}
}

const struct gdn_gojson *gdn_gojson_member(const struct gdn_gojson *obj, const char *key)
{
	const struct gdn_gojson *found = NULL;

	if (!obj || obj->kind != GDN_GOJSON_OBJECT || !key)
		return NULL;
	/* Go assigns each member to the field its name matches (exactly, else ignoring case), in
	 * order, so the last one wins; a null leaves the field as it was. */
	for (size_t i = 0; i < obj->n; i++)
		if (obj->items[i]->kind != GDN_GOJSON_NULL && strcasecmp(obj->keys[i], key) == 0)
			found = obj->items[i];
	return found;
}

static bool numeric_gotype(const char *gotype)
{
	return strncmp(gotype, "uint", 4) == 0 || strncmp(gotype, "int", 3) == 0 ||
	       strncmp(gotype, "float", 5) == 0 || strcmp(gotype, "time.Duration") == 0;
}

/* What Go calls the JSON value in an UnmarshalTypeError: a number is named ("number 256") when
 * the target is numeric, whatever its type is called. */
static void what(const struct gdn_gojson *v, bool numeric, char *out, size_t n)
{
	if (v && v->kind == GDN_GOJSON_NUMBER && numeric)
		(void)snprintf(out, n, "number %s", v->text);
	else
		(void)snprintf(out, n, "%s", gdn_gojson_kind_name(v));
}

static int field_err(struct gdn_err **err, const char *owner, const char *field,
		     const struct gdn_gojson *v, const char *gotype, bool numeric)
{
	char w[128];

	what(v, numeric, w, sizeof(w));
	return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
			    "json: cannot unmarshal %s into Go struct field %s.%s of type %s", w,
			    owner, field, gotype);
}

int gdn_gojson_type_err(struct gdn_err **err, const char *owner, const char *field,
			const struct gdn_gojson *v, const char *gotype)
{
	return field_err(err, owner, field, v, gotype, numeric_gotype(gotype));
}

int gdn_gojson_value_err(struct gdn_err **err, const struct gdn_gojson *v, const char *gotype)
{
	char w[128];

	what(v, numeric_gotype(gotype), w, sizeof(w));
	return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
			    "json: cannot unmarshal %s into Go value of type %s", w, gotype);
}

int gdn_gojson_u64(const struct gdn_gojson *v, uint64_t *ret)
{
	if (!v || v->kind != GDN_GOJSON_NUMBER)
		return -EINVAL;
	return gdn_parse_u64(v->text, ret);
}

int gdn_gojson_i64(const struct gdn_gojson *v, int64_t *ret)
{
	if (!v || v->kind != GDN_GOJSON_NUMBER || v->text[0] == '+')
		return -EINVAL;
	return gdn_parse_i64(v->text, ret);
}

int gdn_gojson_str(const struct gdn_gojson *v, const char *owner, const char *field,
		   const char **ret, struct gdn_err **err)
{
	if (!v || v->kind != GDN_GOJSON_STRING)
		return gdn_gojson_type_err(err, owner, field, v, "string");
	if (strlen(v->text) != v->len)
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
				    "Go struct field %s.%s: a string holding NUL (\\u0000) is not "
				    "supported",
				    owner, field);
	*ret = v->text;
	return 0;
}

int gdn_gojson_get_str(const struct gdn_gojson *obj, const char *owner, const char *key,
		       const char **ret, struct gdn_err **err)
{
	const struct gdn_gojson *v = gdn_gojson_member(obj, key);

	*ret = "";
	return v ? gdn_gojson_str(v, owner, key, ret, err) : 0;
}

int gdn_gojson_get_bool(const struct gdn_gojson *obj, const char *owner, const char *key, bool *ret,
			struct gdn_err **err)
{
	const struct gdn_gojson *v = gdn_gojson_member(obj, key);

	*ret = false;
	if (!v)
		return 0;
	if (v->kind != GDN_GOJSON_BOOL)
		return gdn_gojson_type_err(err, owner, key, v, "bool");
	*ret = v->boolean;
	return 0;
}

int gdn_gojson_get_uint(const struct gdn_gojson *obj, const char *owner, const char *key,
			uint64_t max, const char *gotype, uint64_t *ret, struct gdn_err **err)
{
	const struct gdn_gojson *v = gdn_gojson_member(obj, key);
	uint64_t n;

	*ret = 0;
	if (!v)
		return 0;
	/* (an unsigned target: numeric, even under a name of its own like
	 * garden.DiskLimitScope) */
	if (gdn_gojson_u64(v, &n) < 0 || n > max)
		return field_err(err, owner, key, v, gotype, true);
	*ret = n;
	return 0;
}

int gdn_gojson_get_u64(const struct gdn_gojson *obj, const char *owner, const char *key,
		       uint64_t *ret, struct gdn_err **err)
{
	return gdn_gojson_get_uint(obj, owner, key, UINT64_MAX, "uint64", ret, err);
}

int gdn_gojson_get_u32(const struct gdn_gojson *obj, const char *owner, const char *key,
		       uint32_t *ret, struct gdn_err **err)
{
	uint64_t v = 0;
	int r = gdn_gojson_get_uint(obj, owner, key, UINT32_MAX, "uint32", &v, err);

	*ret = (uint32_t)v;
	return r;
}

int gdn_gojson_get_u16(const struct gdn_gojson *obj, const char *owner, const char *key,
		       uint16_t *ret, struct gdn_err **err)
{
	uint64_t v = 0;
	int r = gdn_gojson_get_uint(obj, owner, key, UINT16_MAX, "uint16", &v, err);

	*ret = (uint16_t)v;
	return r;
}

int gdn_gojson_get_i64(const struct gdn_gojson *obj, const char *owner, const char *key,
		       const char *gotype, int64_t *ret, struct gdn_err **err)
{
	const struct gdn_gojson *v = gdn_gojson_member(obj, key);

	*ret = 0;
	if (!v)
		return 0;
	if (gdn_gojson_i64(v, ret) < 0) {
		*ret = 0;
		return gdn_gojson_type_err(err, owner, key, v, gotype);
	}
	return 0;
}

static int get_kind(const struct gdn_gojson *obj, const char *owner, const char *key,
		    enum gdn_gojson_kind kind, const char *gotype, const struct gdn_gojson **ret,
		    struct gdn_err **err)
{
	const struct gdn_gojson *v = gdn_gojson_member(obj, key);

	*ret = NULL;
	if (v && v->kind != kind)
		return gdn_gojson_type_err(err, owner, key, v, gotype);
	*ret = v;
	return 0;
}

int gdn_gojson_get_obj(const struct gdn_gojson *obj, const char *owner, const char *key,
		       const char *gotype, const struct gdn_gojson **ret, struct gdn_err **err)
{
	return get_kind(obj, owner, key, GDN_GOJSON_OBJECT, gotype, ret, err);
}

int gdn_gojson_get_arr(const struct gdn_gojson *obj, const char *owner, const char *key,
		       const char *gotype, const struct gdn_gojson **ret, struct gdn_err **err)
{
	return get_kind(obj, owner, key, GDN_GOJSON_ARRAY, gotype, ret, err);
}

int gdn_gojson_get_strv(const struct gdn_gojson *obj, const char *owner, const char *key,
			char ***ret, struct gdn_err **err)
{
	const struct gdn_gojson *arr;
	_cleanup_strv_ char **out = NULL;
	int r;

	*ret = NULL;
	r = get_kind(obj, owner, key, GDN_GOJSON_ARRAY, "[]string", &arr, err);
	if (r < 0)
		return r;
	out = calloc((arr ? arr->n : 0) + 1, sizeof(*out));
	if (!out)
		return gdn_err_set(err, ENOMEM, "%s.%s", owner, key);
	for (size_t i = 0; arr && i < arr->n; i++) {
		const char *s;

		r = gdn_gojson_str(arr->items[i], owner, key, &s, err);
		if (r < 0)
			return r;
		out[i] = strdup(s);
		if (!out[i])
			return gdn_err_set(err, ENOMEM, "%s.%s", owner, key);
	}
	*ret = out;
	out = NULL;
	return 0;
}

static bool gojson_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

size_t gdn_gojson_value_end(const char *s, size_t len, size_t i)
{
	size_t depth = 0;

	if (s[i] == 't' || s[i] == 'n')
		return i + 4;
	if (s[i] == 'f')
		return i + 5;
	if (s[i] == '-' || gojson_is_digit(s[i])) {
		i += s[i] == '-';
		if (s[i] == '0')
			i++;
		else
			while (i < len && gojson_is_digit(s[i]))
				i++;
		if (i < len && s[i] == '.')
			for (i++; i < len && gojson_is_digit(s[i]); i++)
				;
		if (i < len && (s[i] == 'e' || s[i] == 'E')) {
			i++;
			if (i < len && (s[i] == '+' || s[i] == '-'))
				i++;
			while (i < len && gojson_is_digit(s[i]))
				i++;
		}
		return i;
	}
	do {
		if (s[i] == '"') {
			for (i++; i < len && s[i] != '"'; i++)
				if (s[i] == '\\')
					i++;
		} else if (s[i] == '{' || s[i] == '[') {
			depth++;
		} else if (s[i] == '}' || s[i] == ']') {
			depth--;
		}
		i++;
	} while (depth > 0 && i < len);
	return i;
}

/* A decoded value as jansson, for what guardian forwards as it came (NetOutRules go to the
 * networker, which validates them as Garden's does). */
json_t *gdn_gojson_to_json(const struct gdn_gojson *v)
{
	switch (v->kind) {
	case GDN_GOJSON_NULL:
		return json_null();
	case GDN_GOJSON_BOOL:
		return json_boolean(v->boolean);
	case GDN_GOJSON_STRING:
		return json_stringn(v->text, v->len);
	case GDN_GOJSON_NUMBER: {
		int64_t i;
		uint64_t u;
		if (gdn_gojson_i64(v, &i) == 0)
			return json_integer(i);
		if (gdn_gojson_u64(v, &u) == 0)
			return gdn_json_u64(u);
		return json_real(strtod(v->text, NULL));
	}
	case GDN_GOJSON_ARRAY: {
		json_t *a = json_array();
		for (size_t i = 0; a && i < v->n; i++)
			if (json_array_append_new(a, gdn_gojson_to_json(v->items[i])) < 0) {
				json_decref(a);
				return NULL;
			}
		return a;
	}
	case GDN_GOJSON_OBJECT: {
		json_t *o = json_object();
		for (size_t i = 0; o && i < v->n; i++)
			if (json_object_set_new(o, v->keys[i], gdn_gojson_to_json(v->items[i])) <
			    0) {
				json_decref(o);
				return NULL;
			}
		return o;
	}
	}
	return NULL;
}
