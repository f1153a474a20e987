/* link: cmd/guardian/netfiles.c */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <jansson.h>

#include "test/unit/tap.h"
#include "lib/fs.h"
#include "lib/path.h"
#include "cmd/guardian/netfiles.h"

static char *at(const char *name)
{
	char *p = gdn_path_join(tap_tmp, name);

	CHECK(p != NULL);
	return p;
}

static void put(const char *name, const char *text)
{
	_cleanup_free_ char *p = at(name);
	_cleanup_close_ int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	CHECK(fd >= 0);
	CHECK(gdn_fd_write_all(fd, text, strlen(text)) == (ssize_t)strlen(text));
}

static char *get(const char *name)
{
	_cleanup_free_ char *p = at(name);
	struct gdn_err *err = NULL;
	char *data = NULL;
	size_t len = 0;

	CHECK_OK(gdn_fs_read_file(p, 1 << 20, &data, &len, &err), err);
	return data;
}

/* resolv.conf from a host file holding `host` (NULL: none), with the plugin's answers. */
static char *resolv(const char *host, const char *local, const char **servers,
		    const char **additional, const char *plugin_dns, const char *plugin_search)
{
	_cleanup_free_ char *host_path = at("host-resolv.conf");
	struct gd_dns_config dns = {.dns_servers = servers,
				    .additional_dns_servers = additional,
				    .host_resolv_conf = host_path};
	json_auto_t *pdns = plugin_dns ? json_loads(plugin_dns, 0, NULL) : NULL;
	json_auto_t *psearch = plugin_search ? json_loads(plugin_search, 0, NULL) : NULL;
	struct gdn_err *err = NULL;

	if (host)
		put("host-resolv.conf", host);
	CHECK_OK(gd_netfiles_write_resolv(tap_tmp, local, &dns, pdns, psearch, &err), err);
	return get("resolv.conf");
}

static void test_hosts(void)
{
	static const char *extra[] = {"10.0.0.9 db", "192.168.1.1 gw gateway", NULL};
	struct gd_dns_config dns = {.additional_host_entries = extra};
	struct gdn_err *err = NULL;
	_cleanup_free_ char *a = NULL, *b = NULL;

	CHECK_OK(gd_netfiles_write_hosts(tap_tmp, "h1", "10.254.0.2", NULL, &err), err);
	a = get("hosts");
	CHECK_STREQ(a, "127.0.0.1 localhost\n10.254.0.2 h1\n");
	CHECK_OK(gd_netfiles_write_hosts(tap_tmp, "h1", "10.254.0.2", &dns, &err), err);
	b = get("hosts");
	CHECK_STREQ(b, "127.0.0.1 localhost\n10.254.0.2 h1\n10.0.0.9 db\n192.168.1.1 gw gateway\n");
}

static void test_hosts_hostname_is_the_last_49_chars(void)
{
	const char *handle = "0123456789-abcdefghijklmnopqrstuvwxyz-0123456789-ABCDEFGHIJ";
	struct gdn_err *err = NULL;
	_cleanup_free_ char *a = NULL, *want = NULL;

	CHECK(strlen(handle) > 49);
	CHECK_OK(gd_netfiles_write_hosts(tap_tmp, handle, "10.0.0.5", NULL, &err), err);
	a = get("hosts");
	CHECK(asprintf(&want, "127.0.0.1 localhost\n10.0.0.5 %s\n", handle + strlen(handle) - 49) >
	      0);
	CHECK_STREQ(a, want);
}

/* net.ParseIP(ip).String(), as Go prints it */
static void test_hosts_ip_as_go_prints_it(void)
{
	static const char *cases[][2] = {
	    {"::ffff:10.1.2.3", "10.1.2.3"},
	    {"2001:DB8:0:0:1:0:0:1", "2001:db8::1:0:0:1"},
	    {"2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"},
	    {"::1", "::1"},
	    {"::", "::"},
	    {"fe80::", "fe80::"},
	    {"not-an-ip", "<nil>"},
	    {"010.0.0.1", "<nil>"},
	};
	struct gdn_err *err = NULL;

	for (size_t i = 0; i < GDN_ARRAY_SIZE(cases); i++) {
		_cleanup_free_ char *a = NULL, *want = NULL;

		CHECK_OK(gd_netfiles_write_hosts(tap_tmp, "h", cases[i][0], NULL, &err), err);
		a = get("hosts");
		CHECK(asprintf(&want, "127.0.0.1 localhost\n%s h\n", cases[i][1]) > 0);
		CHECK_STREQ(a, want);
	}
}

/* Bind-mount sources: the same inode, truncated, owner and mode kept. */
static void test_rewritten_in_place(void)
{
	_cleanup_free_ char *p = at("resolv.conf"), *a = NULL;
	static const char *servers[] = {"1.1.1.1", NULL};
	struct stat before, after;

	put("resolv.conf", "a much longer old content that must not survive the rewrite\n"
			   "nameserver 9.9.9.9\n");
	CHECK(chmod(p, 0640) == 0);
	CHECK(chown(p, 1234, 5678) == 0);
	CHECK(stat(p, &before) == 0);
	a = resolv(NULL, "10.0.0.1", servers, NULL, NULL, NULL);
	CHECK_STREQ(a, "nameserver 1.1.1.1\n");
	CHECK(stat(p, &after) == 0);
	CHECK_INTEQ(after.st_ino, before.st_ino);
	CHECK_INTEQ(after.st_mode & 07777, 0640);
	CHECK_INTEQ(after.st_uid, 1234);
	CHECK_INTEQ(after.st_gid, 5678);
}

static void test_created_0644_when_missing(void)
{
	_cleanup_free_ char *p = at("hosts");
	struct gdn_err *err = NULL;
	struct stat st;

	(void)umask(077);
	CHECK_OK(gd_netfiles_write_hosts(tap_tmp, "h", "10.0.0.2", NULL, &err), err);
	CHECK(stat(p, &st) == 0);
	CHECK_INTEQ(st.st_mode & 07777, 0644);
}

static void test_symlink_and_fifo_refused(void)
{
	_cleanup_free_ char *hosts = at("hosts"), *resolv_path = at("resolv.conf");
	_cleanup_free_ char *target = at("target");
	struct gdn_err *err = NULL;
	_cleanup_free_ char *t = NULL;

	put("target", "untouched\n");
	CHECK(symlink(target, hosts) == 0);
	CHECK(gd_netfiles_write_hosts(tap_tmp, "h", "10.0.0.2", NULL, &err) == -ELOOP);
	err = gdn_err_free(err);
	t = get("target");
	CHECK_STREQ(t, "untouched\n");
	/* nobody reads it: the open must fail, not block */
	CHECK(mkfifo(resolv_path, 0644) == 0);
	{
		static const char *servers[] = {"1.1.1.1", NULL};
		struct gd_dns_config dns = {.dns_servers = servers};

		CHECK(gd_netfiles_write_resolv(tap_tmp, "10.0.0.1", &dns, NULL, NULL, &err) < 0);
		CHECK(strstr(gdn_err_str(err), "resolv.conf") != NULL);
		err = gdn_err_free(err);
	}
}

static void test_plugin_dns_servers_win(void)
{
	static const char *servers[] = {"1.1.1.1", NULL}, *additional[] = {"2.2.2.2", NULL};
	_cleanup_free_ char *a = NULL, *b = NULL, *c = NULL;

	a = resolv("nameserver 8.8.8.8\n", "10.0.0.1", servers, additional,
		   "[\"169.254.0.2\",\"::ffff:10.0.0.3\",\"bogus\"]", NULL);
	CHECK_STREQ(a, "nameserver 169.254.0.2\nnameserver 10.0.0.3\nnameserver <nil>\n");
	/* even an empty list: no nameserver at all */
	b = resolv(NULL, "10.0.0.1", servers, additional, "[]", NULL);
	CHECK_STREQ(b, "");
	/* with search domains */
	c = resolv(NULL, "10.0.0.1", NULL, NULL, "[\"169.254.0.2\"]",
		   "[\"service.cf.internal\",\"garden.test\"]");
	CHECK_STREQ(c, "nameserver 169.254.0.2\nsearch service.cf.internal garden.test\n");
}

static void test_operator_dns_servers_then_additional(void)
{
	static const char *servers[] = {"1.1.1.1", "2001:db8::0:1", NULL};
	static const char *additional[] = {"3.3.3.3", NULL};
	_cleanup_free_ char *a = NULL, *b = NULL;

	a = resolv("nameserver 8.8.8.8\nsearch host.example\n", "10.0.0.1", servers, additional,
		   NULL, NULL);
	CHECK_STREQ(a, "nameserver 1.1.1.1\nnameserver 2001:db8::1\nnameserver 3.3.3.3\n");
	/* plugin search domains are appended here too */
	b = resolv(NULL, "10.0.0.1", servers, NULL, NULL, "[\"a\"]");
	CHECK_STREQ(b, "nameserver 1.1.1.1\nnameserver 2001:db8::1\nsearch a\n");
}

static void test_host_single_loopback_nameserver(void)
{
	static const char *additional[] = {"3.3.3.3", NULL};
	_cleanup_free_ char *a = NULL, *b = NULL, *c = NULL, *d = NULL;

	a = resolv("nameserver 127.0.0.53\n", "10.254.0.1", NULL, NULL, NULL, NULL);
	CHECK_STREQ(a, "nameserver 10.254.0.1\n");
	/* white space around it (\s: tab, newline, form feed, CR, space), additional servers */
	b = resolv(" \n\tnameserver \t 127.0.0.1 \r\n\n", "10.254.0.5", NULL, additional, NULL,
		   NULL);
	CHECK_STREQ(b, "nameserver 10.254.0.5\nnameserver 3.3.3.3\n");
	/* not 127.0.0.x, or not alone: filtered line by line instead */
	c = resolv("nameserver 127.0.1.1\n", "10.254.0.1", NULL, NULL, NULL, NULL);
	CHECK_STREQ(c, "");
	d = resolv("nameserver 127.0.0.53\noptions edns0\n", "10.254.0.1", NULL, NULL, NULL, NULL);
	CHECK_STREQ(d, "options edns0\n");
}

static void test_host_lines_copied_loopback_dropped(void)
{
	static const char *additional[] = {"3.3.3.3", NULL};
	_cleanup_free_ char *a = NULL;

	a = resolv("\n\n# generated by someone\nnameserver 8.8.8.8\nnameserver 127.0.0.53\n"
		   "search example.com corp\noptions ndots:5 timeout:1\n"
		   "nameserver   10.0.0.2   \nnameserver 1.2.3.4 extra\nnameserver\n"
		   "nameserver 10.127.0.0.1\n  indented line\n\nnameserver\t192.168.0.1\n\n",
		   "10.254.0.1", NULL, additional, NULL, NULL);
	CHECK_STREQ(a, "# generated by someone\nnameserver 8.8.8.8\nsearch example.com corp\n"
		       "options ndots:5 timeout:1\nnameserver 10.0.0.2\n  indented line\n"
		       "nameserver 192.168.0.1\nnameserver 3.3.3.3\n");
}

static void test_plugin_search_replaces_host_search(void)
{
	_cleanup_free_ char *a = NULL, *b = NULL;

	a = resolv("search old.example\nnameserver 8.8.8.8\nsearchfoo x\n", "10.254.0.1", NULL,
		   NULL, NULL, "[\"x.test\",\"y.test\"]");
	CHECK_STREQ(a, "nameserver 8.8.8.8\nsearch x.test y.test\n");
	/* an empty list still drops them, and says so */
	b = resolv("search old.example\nnameserver 8.8.8.8\n", "10.254.0.1", NULL, NULL, NULL,
		   "[]");
	CHECK_STREQ(b, "nameserver 8.8.8.8\nsearch\n");
}

static void test_host_file_missing(void)
{
	_cleanup_free_ char *host_path = at("no-such-resolv.conf");
	struct gd_dns_config dns = {.host_resolv_conf = host_path};
	struct gdn_err *err = NULL;

	CHECK(gd_netfiles_write_resolv(tap_tmp, "10.0.0.1", &dns, NULL, NULL, &err) == -ENOENT);
	CHECK(strstr(gdn_err_str(err), "host's resolv.conf") != NULL);
	gdn_err_free(err);
}

int main(void)
{
	static const struct tap_test tests[] = {
	    TEST(test_hosts),
	    TEST(test_hosts_hostname_is_the_last_49_chars),
	    TEST(test_hosts_ip_as_go_prints_it),
	    TEST(test_rewritten_in_place),
	    TEST(test_created_0644_when_missing),
	    TEST(test_symlink_and_fifo_refused),
	    TEST(test_plugin_dns_servers_win),
	    TEST(test_operator_dns_servers_then_additional),
	    TEST(test_host_single_loopback_nameserver),
	    TEST(test_host_lines_copied_loopback_dropped),
	    TEST(test_plugin_search_replaces_host_search),
	    TEST(test_host_file_missing),
	};
	return tap_run(tests, GDN_ARRAY_SIZE(tests));
}
