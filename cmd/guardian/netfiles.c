/* A container's hosts and resolv.conf: see netfiles.h. The rules and the text are those of
 * Garden's kawasaki/dns/{hosts_file_compiler,resolv_compiler}.go; Go's string functions
 * (strings.TrimSpace, strings.Fields: Unicode white space) and regexps (\s: [\t\n\f\r ]) are
 * followed byte for byte. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "lib/buf.h"
#include "lib/fs.h"
#include "lib/net.h"
#include "lib/path.h"
#include "cmd/guardian/netfiles.h"

#define HOSTNAME_MAX 49
#define HOST_RESOLV_MAX (1024 * 1024)
#define IP_TEXT_MAX 48

/* net.ParseIP(s).String(): IPv4 (and IPv4-mapped IPv6) dotted, other IPv6 in RFC 5952 form
 * (the first longest run of two or more zero groups is "::"), "<nil>" for what does not parse. */
static const char *ip_text(const char *s, char out[IP_TEXT_MAX])
{
	static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	unsigned char b[16];
	int family = 0, run_at = -1, run_len = 0;
	size_t n = 0;

	if (gdn_net_parse_ip(s, &family, b) < 0)
		return "<nil>";
	if (family == AF_INET || memcmp(b, mapped, sizeof(mapped)) == 0) {
		const unsigned char *v4 = family == AF_INET ? b : b + 12;

		(void)snprintf(out, IP_TEXT_MAX, "%u.%u.%u.%u", v4[0], v4[1], v4[2], v4[3]);
		return out;
	}
	for (int i = 0; i < 8;) {
		int j = i;

		while (j < 8 && b[2 * j] == 0 && b[2 * j + 1] == 0)
			j++;
		if (j - i > run_len) {
			run_at = i;
			run_len = j - i;
		}
		i = j > i ? j : i + 1;
	}
	if (run_len < 2)
		run_at = -1;
	for (int i = 0; i < 8; i++) {
		if (i == run_at) {
			n += (size_t)snprintf(out + n, IP_TEXT_MAX - n, "::");
			i += run_len - 1;
			continue;
		}
		n += (size_t)snprintf(out + n, IP_TEXT_MAX - n, "%s%x",
				      i > 0 && i != run_at + run_len ? ":" : "",
				      (unsigned)(b[2 * i] << 8 | b[2 * i + 1]));
	}
	return out;
}

/* The length of the Unicode white-space character at p (unicode.IsSpace), or 0. */
static size_t go_space(const unsigned char *p, const unsigned char *end)
{
	size_t left = (size_t)(end - p);

	if (left == 0)
		return 0;
	if (*p == ' ' || (*p >= '\t' && *p <= '\r'))
		return 1;
	if (left >= 2 && p[0] == 0xc2 && (p[1] == 0x85 || p[1] == 0xa0))
		return 2; /* U+0085, U+00A0 */
	if (left < 3)
		return 0;
	if (p[0] == 0xe1 && p[1] == 0x9a && p[2] == 0x80)
		return 3; /* U+1680 */
	if (p[0] == 0xe2 && p[1] == 0x80 &&
	    ((p[2] >= 0x80 && p[2] <= 0x8a) || p[2] == 0xa8 || p[2] == 0xa9 || p[2] == 0xaf))
		return 3; /* U+2000..U+200A, U+2028, U+2029, U+202F */
	if (p[0] == 0xe2 && p[1] == 0x81 && p[2] == 0x9f)
		return 3; /* U+205F */
	if (p[0] == 0xe3 && p[1] == 0x80 && p[2] == 0x80)
		return 3; /* U+3000 */
	return 0;
}

/* Whether the last white-space character of [start, end) ends at end: its length, or 0. */
static size_t go_space_before(const unsigned char *start, const unsigned char *end)
{
	for (size_t n = 1; n <= 3 && (size_t)(end - start) >= n; n++)
		if (go_space(end - n, end) == n)
			return n;
	return 0;
}

struct span {
	const char *p;
	size_t len;
};

/* strings.TrimSpace */
static struct span trim_space(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	size_t n;

	while ((n = go_space(p, end)) > 0)
		p += n;
	while (end > p && (n = go_space_before(p, end)) > 0)
		end -= n;
	return (struct span){(const char *)p, (size_t)(end - p)};
}

/* strings.Fields, at most `max` of them; returns how many there are in all. */
static size_t fields(struct span line, struct span *out, size_t max)
{
	const unsigned char *p = (const unsigned char *)line.p, *end = p + line.len;
	size_t count = 0, n;

	while (p < end) {
		const unsigned char *start;

		while (p < end && (n = go_space(p, end)) > 0)
			p += n;
		if (p >= end)
			break;
		start = p;
		while (p < end && go_space(p, end) == 0)
			p++;
		if (count < max)
			out[count] = (struct span){(const char *)start, (size_t)(p - start)};
		count++;
	}
	return count;
}

static bool has_prefix(struct span s, const char *prefix)
{
	size_t n = strlen(prefix);

	return s.len >= n && memcmp(s.p, prefix, n) == 0;
}

static bool re_space(char c)
{
	return c == '\t' || c == '\n' || c == '\f' || c == '\r' || c == ' ';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* `^\s*nameserver\s+127\.0\.0\.\d+\s*$` over the whole file (no multi-line mode): the host
 * resolves through a local stub resolver only. */
static bool loopback_only(const char *s, size_t len)
{
	static const char word[] = "nameserver", lo[] = "127.0.0.";
	size_t i = 0, j;

	while (i < len && re_space(s[i]))
		i++;
	if (len - i < sizeof(word) - 1 || memcmp(s + i, word, sizeof(word) - 1) != 0)
		return false;
	i += sizeof(word) - 1;
	for (j = i; j < len && re_space(s[j]); j++)
		;
	if (j == i)
		return false;
	i = j;
	if (len - i < sizeof(lo) - 1 || memcmp(s + i, lo, sizeof(lo) - 1) != 0)
		return false;
	i += sizeof(lo) - 1;
	for (j = i; j < len && is_digit(s[j]); j++)
		;
	if (j == i)
		return false;
	for (i = j; i < len && re_space(s[i]); i++)
		;
	return i == len;
}

/* The length of a run of 1 to 3 digits at s[i] followed by `then` (0: anything), or 0. */
static size_t octet(struct span l, size_t i, char then)
{
	size_t j = i;

	while (j < l.len && is_digit(l.p[j]))
		j++;
	if (j == i || (then && (j - i > 3 || j >= l.len || l.p[j] != then)))
		return 0;
	return j - i;
}

/* `127\.\d{1,3}\.\d{1,3}\.\d{1,3}` anywhere in the line: a loopback nameserver. */
static bool mentions_loopback(struct span l)
{
	for (size_t i = 0; i + 4 <= l.len; i++) {
		size_t at = i + 4, n;

		if (memcmp(l.p + i, "127.", 4) != 0)
			continue;
		if ((n = octet(l, at, '.')) == 0)
			continue;
		at += n + 1;
		if ((n = octet(l, at, '.')) == 0)
			continue;
		at += n + 1;
		if (octet(l, at, 0) > 0)
			return true;
	}
	return false;
}

static int nameserver(struct gdn_buf *b, const char *ip)
{
	char text[IP_TEXT_MAX];

	return gdn_buf_printf(b, "nameserver %s\n", ip_text(ip, text));
}

static int nameservers(struct gdn_buf *b, const char **ips)
{
	for (size_t i = 0; ips && ips[i]; i++)
		if (nameserver(b, ips[i]) < 0)
			return -ENOMEM;
	return 0;
}

/* One line of the host's file, unless it is dropped: a nameserver line is rewritten from its
 * fields, any other is copied. */
static int host_line(struct gdn_buf *b, struct span line, bool drop_search)
{
	struct span f[2];
	int r = 0;

	if (line.len == 0 || (drop_search && has_prefix(line, "search")))
		return 0;
	if (!has_prefix(line, "nameserver")) {
		r = gdn_buf_append(b, line.p, line.len);
	} else {
		if (mentions_loopback(line) || fields(line, f, 2) != 2)
			return 0;
		r = gdn_buf_puts(b, "nameserver ");
		if (r >= 0)
			r = gdn_buf_append(b, f[1].p, f[1].len);
	}
	return r < 0 ? r : gdn_buf_puts(b, "\n");
}

/* The host's entries (kawasaki's parseResolvContents), then the additional servers. */
static int from_host(struct gdn_buf *b, const char *local_resolver, const struct gd_dns_config *dns,
		     bool drop_search, struct gdn_err **err)
{
	const char *path = dns->host_resolv_conf ? dns->host_resolv_conf : "/etc/resolv.conf";
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	int r = gdn_fs_read_file(path, HOST_RESOLV_MAX, &data, &len, err);

	if (r < 0)
		return gdn_err_wrap(err, "reading the host's resolv.conf");
	if (loopback_only(data, len)) {
		r = nameserver(b, local_resolver);
	} else {
		struct span all = trim_space(data, len);
		size_t at = 0;

		/* strings.Split(all, "\n"): one more piece than there are newlines */
		for (bool last = false; r >= 0 && !last;) {
			const char *nl = memchr(all.p + at, '\n', all.len - at);
			size_t n = nl ? (size_t)(nl - (all.p + at)) : all.len - at;

			last = nl == NULL;
			r = host_line(b, (struct span){all.p + at, n}, drop_search);
			at += n + 1;
		}
	}
	if (r >= 0)
		r = nameservers(b, dns->additional_dns_servers);
	if (r < 0)
		return gdn_err_set(err, ENOMEM, "resolv.conf");
	return 0;
}

/* Truncates and writes the file in place; creates it (0644) only if it is missing. */
static int rewrite(const char *dir, const char *name, const struct gdn_buf *b, struct gdn_err **err)
{
	_cleanup_free_ char *path = gdn_path_join(dir, name);
	_cleanup_close_ int fd = -1;
	struct stat st;
	ssize_t w;

	if (!path)
		return gdn_err_set(err, ENOMEM, "%s", name);
	/* O_NONBLOCK: a FIFO planted there fails instead of blocking us */
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0 && errno == ENOENT) {
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (fd >= 0 && fchmod(fd, 0644) < 0)
			return gdn_err_set(err, errno, "chmod '%s'", path);
	}
	if (fd < 0)
		return gdn_err_set(err, errno, "open '%s'", path);
	if (fstat(fd, &st) < 0)
		return gdn_err_set(err, errno, "stat '%s'", path);
	if (!S_ISREG(st.st_mode))
		return gdn_err_set(err, EINVAL, "'%s' is not a regular file", path);
	w = gdn_fd_write_all(fd, b->data ? b->data : "", b->len);
	if (w < 0)
		return gdn_err_set(err, (int)-w, "write '%s'", path);
	if (close(gdn_steal_fd(&fd)) < 0)
		return gdn_err_set(err, errno, "close '%s'", path);
	return 0;
}

int gd_netfiles_write_hosts(const char *dir, const char *handle, const char *container_ip,
			    const struct gd_dns_config *dns, struct gdn_err **err)
{
	_cleanup_buf_ struct gdn_buf b = {0};
	char text[IP_TEXT_MAX];
	size_t hlen = strlen(handle);
	const char *hostname = hlen > HOSTNAME_MAX ? handle + hlen - HOSTNAME_MAX : handle;
	int r = gdn_buf_printf(&b, "127.0.0.1 localhost\n%s %s\n", ip_text(container_ip, text),
			       hostname);

	for (size_t i = 0;
	     r >= 0 && dns && dns->additional_host_entries && dns->additional_host_entries[i]; i++)
		r = gdn_buf_printf(&b, "%s\n", dns->additional_host_entries[i]);
	if (r < 0)
		return gdn_err_set(err, ENOMEM, "hosts");
	return rewrite(dir, "hosts", &b, err);
}

int gd_netfiles_write_resolv(const char *dir, const char *local_resolver,
			     const struct gd_dns_config *dns, const json_t *plugin_dns,
			     const json_t *plugin_search, struct gdn_err **err)
{
	static const struct gd_dns_config none = {0};
	_cleanup_buf_ struct gdn_buf b = {0};
	size_t i;
	json_t *v;
	int r = 0;

	if (!dns)
		dns = &none;
	if (json_is_array(plugin_dns)) {
		json_array_foreach (plugin_dns, i, v) {
			if (nameserver(&b, json_string_value(v)) < 0)
				return gdn_err_set(err, ENOMEM, "resolv.conf");
		}
	} else if (dns->dns_servers && dns->dns_servers[0]) {
		if (nameservers(&b, dns->dns_servers) < 0 ||
		    nameservers(&b, dns->additional_dns_servers) < 0)
			return gdn_err_set(err, ENOMEM, "resolv.conf");
	} else {
		r = from_host(&b, local_resolver, dns, json_is_array(plugin_search), err);
		if (r < 0)
			return r;
	}
	if (json_is_array(plugin_search)) {
		r = gdn_buf_puts(&b, "search");
		json_array_foreach (plugin_search, i, v) {
			if (r >= 0 && json_is_string(v))
				r = gdn_buf_printf(&b, " %s", json_string_value(v));
		}
		if (r >= 0)
			r = gdn_buf_puts(&b, "\n");
		if (r < 0)
			return gdn_err_set(err, ENOMEM, "resolv.conf");
	}
	return rewrite(dir, "resolv.conf", &b, err);
}
