/* clang-format off */
/* link: cmd/guardian/registry.c cmd/guardian/events.c cmd/guardian/container.c cmd/guardian/bundle.c cmd/guardian/seccomp.c cmd/guardian/caps.c cmd/guardian/cgroup.c cmd/guardian/dadoo_client.c cmd/guardian/runtime.c cmd/guardian/volumizer.c cmd/guardian/volume_store.c cmd/guardian/mountinfo.c cmd/guardian/quota.c cmd/guardian/disk_usage.c cmd/guardian/network.c cmd/guardian/kawasaki_client.c cmd/guardian/netfiles.c cmd/guardian/netplugin.c cmd/guardian/image.c cmd/guardian/layers.c cmd/guardian/imageplugin.c cmd/guardian/pea.c cmd/guardian/process_spec.c cmd/guardian/users.c */
/* pkgs: jansson libbsd libarchive libmd */
/* clang-format on */
#include <stdbool.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <bsd/string.h>

#include "test/unit/tap.h"
#include "lib/fs.h"
#include "lib/util.h"
#include "cmd/guardian/events.h"
#include "cmd/guardian/registry.h"

#define SEC 1000000000ull

static struct gd_ctr *add(struct gd_registry *r, const char *handle, uint64_t grace)
{
	struct gd_ctr *c = gd_registry_add(r, handle, NULL, grace);

	if (!c)
		tap_fail_(__FILE__, __LINE__, "gd_registry_add '%s' failed", handle);
	return c;
}

/* The handles from head to tail, comma-separated. */
static const char *order(const struct gd_registry *r)
{
	static char out[256];

	out[0] = '\0';
	for (const struct gd_ctr *c = r->head; c; c = c->next) {
		if (out[0])
			strlcat(out, ",", sizeof(out));
		strlcat(out, c->handle, sizeof(out));
	}
	return out;
}

static void test_add_find(void)
{
	struct gd_registry r = {0};
	json_auto_t *props = json_pack("{s:s, s:s}", "a", "1", "garden.grace-time", "7");
	struct gd_ctr *a, *b;

	a = gd_registry_add(&r, "alpha", props, 5 * SEC);
	CHECK(a);
	CHECK_STREQ(a->handle, "alpha");
	CHECK(a->state == GD_CTR_CREATING);
	CHECK_INTEQ(a->grace_ns, 5 * SEC);
	CHECK_INTEQ(a->refs, 0);
	CHECK_INTEQ(a->deadline_ns, 0);
	CHECK(json_equal(a->props, props));
	/* props are copied, deeply */
	CHECK(a->props != props);
	json_object_set_new(props, "a", json_string("changed"));
	CHECK_STREQ(json_string_value(json_object_get(a->props, "a")), "1");
	/* no props: an empty object */
	b = add(&r, "beta", 0);
	CHECK(json_is_object(b->props) && json_object_size(b->props) == 0);
	CHECK_INTEQ(r.count, 2);
	CHECK_STREQ(order(&r), "beta,alpha");

	CHECK(gd_registry_find(&r, "alpha") == a);
	CHECK(gd_registry_find(&r, "beta") == b);
	CHECK(gd_registry_find(&r, "alph") == NULL);
	CHECK(gd_registry_find(&r, "alphaa") == NULL);
	CHECK(gd_registry_find(&r, "ALPHA") == NULL);
	CHECK(gd_registry_find(&r, "") == NULL);
	gd_registry_free(&r);
	CHECK(r.head == NULL);
	CHECK_INTEQ(r.count, 0);
}

static void test_find_empty(void)
{
	struct gd_registry r = {0};

	CHECK(gd_registry_find(&r, "x") == NULL);
	gd_registry_free(&r);
	CHECK_INTEQ(r.count, 0);
}

static void test_remove(void)
{
	struct gd_registry r = {0}, other = {0};
	struct gd_ctr *a = add(&r, "a", 0), *b = add(&r, "b", 0), *c = add(&r, "c", 0);
	struct gd_ctr *d = add(&r, "d", 0), *stranger = add(&other, "a", 0);

	(void)a;
	CHECK_STREQ(order(&r), "d,c,b,a");
	/* the middle, the head, the tail */
	gd_registry_remove(&r, b);
	CHECK_STREQ(order(&r), "d,c,a");
	CHECK_INTEQ(r.count, 3);
	gd_registry_remove(&r, d);
	CHECK_STREQ(order(&r), "c,a");
	gd_registry_remove(&r, gd_registry_find(&r, "a"));
	CHECK_STREQ(order(&r), "c");
	CHECK_INTEQ(r.count, 1);
	CHECK(gd_registry_find(&r, "a") == NULL);
	CHECK(gd_registry_find(&r, "c") == c);
	/* a container of another registry (same handle) is not touched */
	add(&r, "a", 0);
	gd_registry_remove(&r, stranger);
	CHECK_INTEQ(r.count, 2);
	CHECK_INTEQ(other.count, 1);
	CHECK(other.head == stranger);
	CHECK_STREQ(order(&r), "a,c");
	gd_registry_remove(&r, c);
	gd_registry_remove(&r, r.head);
	CHECK(r.head == NULL);
	CHECK_INTEQ(r.count, 0);
	gd_registry_free(&r);
	gd_registry_free(&other);
}

static void test_serials_never_reused(void)
{
	struct gd_registry r = {0}, other = {0};
	struct gd_ctr *a = add(&r, "h", 0);
	uint64_t first = a->serial, second;
	struct gd_ctr *b = add(&other, "h", 0);

	/* unique across registries too: the counter is per process */
	CHECK(first > 0);
	CHECK(b->serial > first);
	gd_registry_remove(&r, a);
	/* the same handle registered again gets a new serial (a lease of the old one must not
	 * resume the new one) */
	a = add(&r, "h", 0);
	second = a->serial;
	CHECK(second > b->serial);
	for (int i = 0; i < 100; i++) {
		uint64_t prev = r.head->serial;
		char h[16];
		(void)snprintf(h, sizeof(h), "n%d", i);
		CHECK(add(&r, h, 0)->serial == prev + 1);
	}
	gd_registry_free(&r);
	gd_registry_free(&other);
}

/* `deadline` is `grace` after a moment between before and after. */
static void check_deadline(uint64_t deadline, uint64_t grace, uint64_t before, uint64_t after)
{
	if (deadline < before + grace || deadline > after + grace)
		tap_fail_(__FILE__, __LINE__, "deadline %llu not in [%llu, %llu]",
			  (unsigned long long)deadline, (unsigned long long)(before + grace),
			  (unsigned long long)(after + grace));
}

static void test_pause_resume(void)
{
	struct gd_registry r = {0};
	struct gd_ctr *c = add(&r, "g", 3 * SEC);
	uint64_t before, after, d1;

	gd_ctr_pause(c);
	gd_ctr_pause(c);
	CHECK_INTEQ(c->refs, 2);
	CHECK_INTEQ(c->deadline_ns, 0);
	/* one request of two ends: still paused, no deadline set */
	gd_ctr_resume(c);
	CHECK_INTEQ(c->refs, 1);
	CHECK_INTEQ(c->deadline_ns, 0);
	/* the last one ends: the countdown starts from the full grace time */
	before = gdn_now_mono_ns();
	gd_ctr_resume(c);
	after = gdn_now_mono_ns();
	CHECK_INTEQ(c->refs, 0);
	check_deadline(c->deadline_ns, 3 * SEC, before, after);
	d1 = c->deadline_ns;
	/* a later pause + resume restarts it (the deadline moves, never backwards) */
	gd_ctr_pause(c);
	CHECK_INTEQ(c->deadline_ns, d1);
	before = gdn_now_mono_ns();
	gd_ctr_resume(c);
	after = gdn_now_mono_ns();
	check_deadline(c->deadline_ns, 3 * SEC, before, after);
	CHECK(c->deadline_ns >= d1);
	/* an unbalanced resume does not wrap refs below zero */
	gd_ctr_resume(c);
	CHECK_INTEQ(c->refs, 0);
	gd_ctr_pause(c);
	CHECK_INTEQ(c->refs, 1);
	gd_registry_free(&r);
}

static void test_set_grace(void)
{
	struct gd_registry r = {0};
	struct gd_ctr *c = add(&r, "g", 0);
	uint64_t before, after;

	CHECK_INTEQ(c->grace_ns, 0);
	before = gdn_now_mono_ns();
	gd_ctr_set_grace(c, 2 * SEC);
	after = gdn_now_mono_ns();
	CHECK_INTEQ(c->grace_ns, 2 * SEC);
	check_deadline(c->deadline_ns, 2 * SEC, before, after);
	/* while paused, the new grace time applies from the resume */
	gd_ctr_pause(c);
	gd_ctr_set_grace(c, 10 * SEC);
	before = gdn_now_mono_ns();
	gd_ctr_resume(c);
	after = gdn_now_mono_ns();
	check_deadline(c->deadline_ns, 10 * SEC, before, after);
	/* 0: never reaped (the reaper ignores the deadline) */
	gd_ctr_set_grace(c, 0);
	CHECK_INTEQ(c->grace_ns, 0);
	gd_registry_free(&r);
}

static uint64_t grace_of(const char *json)
{
	json_auto_t *props = json_loads(json, 0, NULL);

	if (!props)
		tap_fail_(__FILE__, __LINE__, "bad test JSON %s", json);
	return gd_props_grace(props);
}

static void test_props_grace(void)
{
	CHECK_INTEQ(grace_of("{\"garden.grace-time\":\"5000000000\"}"), 5 * SEC);
	CHECK_INTEQ(grace_of("{\"garden.grace-time\":\"0\"}"), 0);
	CHECK(grace_of("{\"garden.grace-time\":\"18446744073709551615\"}") == UINT64_MAX);
	/* absent, not a string, not a whole decimal number, out of range: 0 */
	CHECK_INTEQ(grace_of("{}"), 0);
	CHECK_INTEQ(grace_of("{\"grace-time\":\"5\"}"), 0);
	CHECK_INTEQ(grace_of("{\"garden.grace-time\":5000000000}"), 0);
	CHECK_INTEQ(grace_of("{\"garden.grace-time\":null}"), 0);
	CHECK_INTEQ(grace_of("{\"garden.grace-time\":\"\"}"), 0);
	CHECK_INTEQ(grace_of("{\"garden.grace-time\":\"5s\"}"), 0);
	CHECK_INTEQ(grace_of("{\"garden.grace-time\":\" 5\"}"), 0);
	CHECK_INTEQ(grace_of("{\"garden.grace-time\":\"-5\"}"), 0);
	CHECK_INTEQ(grace_of("{\"garden.grace-time\":\"18446744073709551616\"}"), 0);
	CHECK_INTEQ(grace_of("[]"), 0);
	CHECK_INTEQ(gd_props_grace(NULL), 0);
}

static void test_save(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	_cleanup_free_ char *text = NULL;
	struct gd_config cfg = {.depot = tap_tmp};
	struct gd_registry r = {0};
	json_auto_t *props =
	    json_pack("{s:s, s:s}", "x", "y \"quoted\"\n", "garden.state", "created");
	json_auto_t *back = NULL;
	struct gd_ctr *c = gd_registry_add(&r, "saved", props, 0);
	char dir[128], path[160];
	struct stat st;
	size_t len = 0;

	CHECK(c);
	(void)snprintf(dir, sizeof(dir), "%s/saved", tap_tmp);
	(void)snprintf(path, sizeof(path), "%s/properties.json", dir);
	/* no container dir: an error, nothing written */
	CHECK(gd_ctr_save(&cfg, c, &err) < 0);
	CHECK(strstr(gdn_err_str(err), "properties.json"));
	err = gdn_err_free(err);
	CHECK(mkdir(dir, 0755) == 0);
	CHECK_OK(gd_ctr_save(&cfg, c, &err), err);
	CHECK_OK(gdn_fs_read_file(path, 65536, &text, &len, &err), err);
	back = json_loads(text, 0, NULL);
	/* guardian's own state is not a property on disk (the created marker is) */
	CHECK(json_object_get(back, "garden.state") == NULL);
	CHECK(json_object_set_new(back, "garden.state", json_string("created")) == 0);
	CHECK(json_equal(back, props));
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	/* a change is written over the old file, and no temp file is left */
	json_object_set_new(c->props, "x", json_string("z"));
	CHECK_OK(gd_ctr_save(&cfg, c, &err), err);
	free(text);
	text = NULL;
	CHECK_OK(gdn_fs_read_file(path, 65536, &text, &len, &err), err);
	CHECK(strstr(text, "\"x\":\"z\""));
	{
		int n = 0;
		DIR *d = opendir(dir);
		struct dirent *e;
		CHECK(d);
		while ((e = readdir(d)))
			n += e->d_name[0] != '.';
		closedir(d);
		CHECK_INTEQ(n, 1);
	}
	gd_registry_free(&r);
}

/* The recorded OOM-kill count is written with the properties (one atomic write with the events
 * it accounts for) but is not one of them: c->props never holds it. */
static void test_save_oom_kills(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	_cleanup_free_ char *text = NULL;
	struct gd_config cfg = {.depot = tap_tmp};
	struct gd_registry r = {0};
	json_auto_t *props = json_pack("{s:s}", GD_PROP_EVENTS, GD_EVENT_OOM);
	json_auto_t *back = NULL;
	struct gd_ctr *c = gd_registry_add(&r, "oomed", props, 0);
	char dir[128], path[160];
	size_t len = 0;

	CHECK(c);
	(void)snprintf(dir, sizeof(dir), "%s/oomed", tap_tmp);
	(void)snprintf(path, sizeof(path), "%s/properties.json", dir);
	CHECK(mkdir(dir, 0755) == 0);
	c->oom_kills = 3;
	CHECK_OK(gd_ctr_save(&cfg, c, &err), err);
	CHECK(json_object_get(c->props, GD_PROP_OOM_KILLS) == NULL);
	CHECK_OK(gdn_fs_read_file(path, 65536, &text, &len, &err), err);
	back = json_loads(text, 0, NULL);
	CHECK_STREQ(json_string_value(json_object_get(back, GD_PROP_OOM_KILLS)), "3");
	CHECK_STREQ(json_string_value(json_object_get(back, GD_PROP_EVENTS)), GD_EVENT_OOM);
	/* what restore does: the count comes out, the rest are the properties */
	CHECK_INTEQ(gd_events_take_oom_kills(back), 3);
	CHECK(json_equal(back, props));
	/* clients can neither set nor remove it */
	CHECK(gd_prop_reserved(GD_PROP_OOM_KILLS));
	CHECK(!gd_prop_reserved(GD_PROP_EVENTS));
	gd_registry_free(&r);
}

int main(void)
{
	static const struct tap_test tests[] = {
	    TEST(test_add_find),       TEST(test_find_empty),
	    TEST(test_remove),	       TEST(test_serials_never_reused),
	    TEST(test_pause_resume),   TEST(test_set_grace),
	    TEST(test_props_grace),    TEST(test_save),
	    TEST(test_save_oom_kills),
	};
	return tap_run(tests, GDN_ARRAY_SIZE(tests));
}
