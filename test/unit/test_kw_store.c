/* link: cmd/kawasaki/store.c cmd/kawasaki/names.c cmd/kawasaki/pool.c */
/* pkgs: jansson libbsd libnl-route-3.0 libiptc */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test/unit/tap.h"
#include "lib/fs.h"
#include "lib/path.h"
#include "cmd/kawasaki/kawasaki.h"

static char dir[] = "/tmp/kwstore.XXXXXX";

static void daemon_init(struct kw_daemon *d, struct kw_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	memset(d, 0, sizeof(*d));
	cfg->state_dir = dir;
	CHECK(gdn_net_parse_cidr("10.254.0.0/22", &cfg->pool, NULL) == 0);
	cfg->port_start = 61001;
	cfg->port_size = 4534;
	d->cfg = cfg;
	d->log = gdn_log_root();
	d->lock_fd = -1;
	kw_names_init(&d->names, "");
	CHECK(kw_pool_new(&cfg->pool, cfg->port_start, cfg->port_size, &d->pool, NULL) == 0);
}

static void daemon_free(struct kw_daemon *d)
{
	for (struct kw_alloc *a = d->allocs, *next; a; a = next) {
		next = a->next;
		kw_alloc_free(a);
	}
	kw_pool_free(d->pool);
	if (d->lock_fd >= 0)
		(void)close(d->lock_fd);
}

static struct kw_alloc *make_alloc(struct kw_daemon *d, const char *handle)
{
	struct kw_alloc *a = calloc(1, sizeof(*a));
	char id[KW_INSTANCE_ID_LEN + 1];

	a->handle = strdup(handle);
	CHECK(kw_pool_acquire(d->pool, "", &a->subnet, &a->ip, NULL) == 0);
	kw_instance_id(0x123456789abcdULL + d->n_allocs, id);
	kw_alloc_names(&d->names, a, id);
	a->mtu = 1400;
	a->masq = strdup(handle);
	a->ports = calloc(2, sizeof(*a->ports));
	a->ports[0] = (struct kw_port){(uint16_t)(61001 + d->n_allocs), 8080, true};
	a->ports[1] = (struct kw_port){62000, 62000, false};
	a->n_ports = 2;
	CHECK(kw_pool_port_take(d->pool, a->ports[0].host, NULL) >= 0);
	a->next = d->allocs;
	d->allocs = a;
	d->n_allocs++;
	return a;
}

static void write_file(const char *name, const char *text)
{
	char path[256];
	(void)snprintf(path, sizeof(path), "%s/containers/%s", dir, name);
	CHECK(gdn_fs_write_atomic(path, text, strlen(text), 0600, NULL) == 0);
}

static bool exists(const char *name)
{
	char path[256];
	(void)snprintf(path, sizeof(path), "%s/containers/%s", dir, name);
	return access(path, F_OK) == 0;
}

static void test_records_survive_a_restart(void)
{
	struct kw_config cfg;
	struct kw_daemon d;

	daemon_init(&d, &cfg);
	CHECK(kw_store_open(&d, NULL) == 0);
	struct kw_alloc *a = make_alloc(&d, "web-1");
	struct kw_alloc *b = make_alloc(&d, "web-2");
	CHECK(kw_store_save(&d, a, NULL) == 0);
	CHECK(kw_store_save(&d, b, NULL) == 0);
	CHECK(kw_store_save_cursor(&d, NULL) == 0);
	uint32_t ip_a = a->ip, ip_b = b->ip;
	char host_if[IF_NAMESIZE];
	memcpy(host_if, a->host_if, sizeof(host_if));
	daemon_free(&d);

	/* a new daemon replays both into its pools: nothing is handed out twice */
	daemon_init(&d, &cfg);
	CHECK(kw_store_open(&d, NULL) == 0);
	CHECK(d.n_allocs == 2);
	struct kw_alloc *ra = kw_alloc_find(&d, "web-1");
	CHECK(ra && ra->ip == ip_a && strcmp(ra->host_if, host_if) == 0 && ra->mtu == 1400);
	CHECK(ra && ra->n_ports == 2 && ra->ports[0].pooled && !ra->ports[1].pooled);
	CHECK(ra && ra->masq && strcmp(ra->masq, "web-1") == 0);
	CHECK(kw_alloc_find(&d, "web-2")->ip == ip_b);
	struct gdn_cidr sn;
	uint32_t ip;
	CHECK(kw_pool_acquire(d.pool, "", &sn, &ip, NULL) == 0);
	CHECK(ip != ip_a && ip != ip_b);
	_cleanup_err_ struct gdn_err *e = NULL;
	CHECK(kw_pool_port_take(d.pool, 61001, &e) < 0);
	daemon_free(&d);
}

static void test_one_daemon_per_state_dir(void)
{
	struct kw_config cfg1, cfg2;
	struct kw_daemon d1, d2;
	_cleanup_err_ struct gdn_err *e = NULL;

	daemon_init(&d1, &cfg1);
	CHECK(kw_store_open(&d1, NULL) == 0);
	daemon_init(&d2, &cfg2);
	CHECK(kw_store_open(&d2, &e) == -EBUSY);
	CHECK(e && strstr(gdn_err_str(e), "another kawasaki holds the state dir"));
	daemon_free(&d2);
	daemon_free(&d1);
}

static void test_bad_and_interrupted_records(void)
{
	struct kw_config cfg;
	struct kw_daemon d;

	/* a temp file of an interrupted rewrite of web-1's record: removed, the record kept */
	write_file("web-1.tmp.77.1", "{\"handle\":\"web-1\",\"id\":\"0000000000a\",\"subnet\":"
				     "\"10.254.0.0/30\",\"ip\":\"10.254.0.2\",\"bridge\":\"b\","
				     "\"host_if\":\"h\",\"container_if\":\"c\",\"mtu\":1500}");
	/* garbage and a record naming another handle: kept on disk, not loaded */
	write_file("junk", "not json");
	write_file("other", "{\"handle\":\"web-9\"}");
	daemon_init(&d, &cfg);
	CHECK(kw_store_open(&d, NULL) == 0);
	CHECK(!exists("web-1.tmp.77.1"));
	CHECK(exists("web-1"));
	CHECK(exists("junk"));
	CHECK(exists("other"));
	CHECK(kw_alloc_find(&d, "web-1") != NULL);
	CHECK(kw_alloc_find(&d, "junk") == NULL && kw_alloc_find(&d, "web-9") == NULL);
	CHECK(kw_store_remove(&d, "web-1", NULL) == 0);
	CHECK(!exists("web-1"));
	CHECK(kw_store_remove(&d, "web-1", NULL) == 0); /* twice: fine */
	daemon_free(&d);
}

static void test_names(void)
{
	struct kw_names n;
	char id[KW_INSTANCE_ID_LEN + 1], chain[32];
	bool bridge;

	kw_instance_id(1, id);
	CHECK(strcmp(id, "00000000001") == 0);
	kw_instance_id((1ULL << 55) - 1, id);
	CHECK(strcmp(id, "vvvvvvvvvvv") == 0);
	kw_names_init(&n, "");
	CHECK(strcmp(n.input, "w--input") == 0 && strcmp(n.if_prefix, "w") == 0);
	kw_log_chain(&n, "abcdefghijk", chain);
	CHECK(strcmp(chain, "w--instance-abcdefghijk-log") == 0);
	CHECK(kw_link_is_ours(&n, "wabcdefghijk-0", &bridge) && !bridge);
	CHECK(kw_link_is_ours(&n, "wbrdg-0afe0000", &bridge) && bridge);
	CHECK(!kw_link_is_ours(&n, "wlan0", &bridge));
	CHECK(!kw_link_is_ours(&n, "wabcdefghijk-1", &bridge));
	CHECK(!kw_link_is_ours(&n, "wbrdg-0afe00zz", &bridge));
	kw_names_init(&n, "x");
	CHECK(strcmp(n.forward, "w-x-forward") == 0);
	struct kw_alloc a = {0};
	CHECK(gdn_net_parse_cidr("10.254.1.4/30", &a.subnet, NULL) == 0);
	kw_alloc_names(&n, &a, "abcdefghijk");
	CHECK(strcmp(a.host_if, "wxabcdefghijk-0") == 0 && strlen(a.host_if) == 15);
	CHECK(strcmp(a.bridge, "wxbrdg-0afe0104") == 0);
}

int main(void)
{
	static const struct tap_test tests[] = {
	    TEST(test_records_survive_a_restart),
	    TEST(test_one_daemon_per_state_dir),
	    TEST(test_bad_and_interrupted_records),
	    TEST(test_names),
	};
	if (!mkdtemp(dir))
		return 1;
	gdn_log_init("test", GDN_LOG_FATAL, STDERR_FILENO);
	int r = tap_run(tests, GDN_ARRAY_SIZE(tests));
	(void)gdn_fs_rm_rf(dir, NULL);
	return r;
}
