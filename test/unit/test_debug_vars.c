/* link: cmd/guardian/debug_vars.c */
/* GET /debug/vars' body: memstats from its sources, cmdline, Go expvar's rendering, and the
 * directory counters on made-up trees. */
#include <string.h>
#include <sys/stat.h>

#include "test/unit/tap.h"
#include "lib/fs.h"
#include "lib/util.h"
#include "cmd/guardian/debug_vars.h"

static const char *const memstats_fields[] = {
    "Alloc",	   "TotalAlloc",  "Sys",	   "Lookups",	"Mallocs",	"Frees",
    "HeapAlloc",   "HeapSys",	  "HeapIdle",	   "HeapInuse", "HeapReleased", "HeapObjects",
    "StackInuse",  "StackSys",	  "MSpanInuse",	   "MSpanSys",	"MCacheInuse",	"MCacheSys",
    "BuckHashSys", "GCSys",	  "OtherSys",	   "NextGC",	"LastGC",	"PauseTotalNs",
    "NumGC",	   "NumForcedGC", "GCCPUFraction", "EnableGC",	"DebugGC",
};

static uint64_t field(const json_t *o, const char *name)
{
	uint64_t v = 0;

	if (gdn_json_u64_value(json_object_get(o, name), &v) < 0)
		tap_fail_(__FILE__, __LINE__, "memstats.%s is not a number", name);
	return v;
}

static void test_parse_status(void)
{
	static const char text[] = "Name:\tguardian\n"
				   "VmPeak:\t   10000 kB\n"
				   "VmData:\t    2048 kB\n"
				   "VmStk:\t     132 kB\n"
				   "VmRSS:\t    4000 kB\n";
	struct gd_mem_sources m = {.vm_data = 7, .vm_stk = 9};

	gd_debug_parse_status(text, &m);
	CHECK_INTEQ(m.vm_data, 2048 * 1024);
	CHECK_INTEQ(m.vm_stk, 132 * 1024);
	/* missing lines (a kernel thread's status) leave the fields alone */
	m.vm_data = 7;
	m.vm_stk = 9;
	gd_debug_parse_status("Name:\tkthreadd\nVmDataX:\t1 kB\nState:\tS\n", &m);
	CHECK_INTEQ(m.vm_data, 7);
	CHECK_INTEQ(m.vm_stk, 9);
	gd_debug_parse_status("", &m);
	CHECK_INTEQ(m.vm_data, 7);
}

static void test_memstats(void)
{
	const struct gd_mem_sources m = {
	    .arena = 1000000,
	    .uordblks = 600000,
	    .fordblks = 400000,
	    .hblkhd = 50000,
	    .keepcost = 100000,
	    .vm_data = 3000000,
	    .vm_stk = 135168,
	};
	json_auto_t *o = gd_debug_memstats(&m);
	const char *key;
	json_t *v;
	size_t i = 0;

	CHECK(o);
	/* every scalar field of runtime.MemStats, in Go's order, and nothing else */
	CHECK_INTEQ(json_object_size(o), GDN_ARRAY_SIZE(memstats_fields));
	json_object_foreach (o, key, v)
		CHECK_STREQ(key, memstats_fields[i++]);
	CHECK_INTEQ(field(o, "Alloc"), 650000);
	CHECK_INTEQ(field(o, "HeapAlloc"), 650000);
	CHECK_INTEQ(field(o, "HeapInuse"), 650000);
	CHECK_INTEQ(field(o, "TotalAlloc"), 650000);
	CHECK_INTEQ(field(o, "HeapSys"), 1050000);
	CHECK_INTEQ(field(o, "HeapIdle"), 400000);
	CHECK_INTEQ(field(o, "HeapReleased"), 100000);
	CHECK_INTEQ(field(o, "StackInuse"), 135168);
	CHECK_INTEQ(field(o, "StackSys"), 135168);
	CHECK_INTEQ(field(o, "Sys"), 3135168);
	/* Go's invariants: Sys is the sum of the *Sys fields; HeapIdle + HeapInuse = HeapSys */
	CHECK_INTEQ(field(o, "OtherSys"), 3135168 - 1050000 - 135168);
	CHECK_INTEQ(field(o, "HeapSys") + field(o, "StackSys") + field(o, "OtherSys") +
			field(o, "MSpanSys") + field(o, "MCacheSys") + field(o, "BuckHashSys") +
			field(o, "GCSys"),
		    field(o, "Sys"));
	CHECK_INTEQ(field(o, "HeapIdle") + field(o, "HeapInuse"), field(o, "HeapSys"));
	CHECK_INTEQ(field(o, "HeapObjects"), field(o, "Mallocs") - field(o, "Frees"));
	CHECK_INTEQ(field(o, "NumGC"), 0);
	CHECK(json_is_true(json_object_get(o, "EnableGC")));
	CHECK(json_is_false(json_object_get(o, "DebugGC")));
	CHECK(json_is_number(json_object_get(o, "GCCPUFraction")));
}

static void test_memstats_sys_below_heap(void)
{
	/* a heap bigger than VmData claims (never seen, but the subtraction must not wrap) */
	const struct gd_mem_sources m = {.arena = 5000, .hblkhd = 0, .vm_data = 1000};
	json_auto_t *o = gd_debug_memstats(&m);

	CHECK(o);
	CHECK_INTEQ(field(o, "OtherSys"), 0);
}

static char *dump(const json_t *v)
{
	return json_dumps(v, JSON_COMPACT);
}

static void test_cmdline(void)
{
	static const char args[] = "guardian\0server\0--tag\0\0a b";
	json_auto_t *a = gd_debug_cmdline(args, sizeof(args) - 1);
	json_auto_t *b = gd_debug_cmdline(args, sizeof(args)); /* the last NUL too */
	json_auto_t *none = gd_debug_cmdline("", 0);
	_cleanup_free_ char *ta = dump(a), *tb = dump(b), *tn = dump(none);

	CHECK_STREQ(ta, "[\"guardian\",\"server\",\"--tag\",\"\",\"a b\"]");
	CHECK_STREQ(tb, ta);
	CHECK_STREQ(tn, "[]");
}

static void test_render(void)
{
	json_auto_t *vars =
	    json_pack("{s:I, s:[s,s], s:{s:I,s:b}, s:I}", "numCPUS", (json_int_t)4, "cmdline",
		      "guardian", "server", "memstats", "Alloc", (json_int_t)10, "EnableGC", 1,
		      "backingStores", (json_int_t)0);
	_cleanup_(gdn_buf_freep) struct gdn_buf out = {0};
	json_auto_t *back = NULL;

	CHECK(vars);
	CHECK_OK(gd_debug_vars_render(vars, &out), NULL);
	/* Go's expvarHandler: members sorted by key, "%q: %s", ",\n" between, "\n}\n" last */
	CHECK_STREQ(out.data, "{\n"
			      "\"backingStores\": 0,\n"
			      "\"cmdline\": [\"guardian\",\"server\"],\n"
			      "\"memstats\": {\"Alloc\":10,\"EnableGC\":true},\n"
			      "\"numCPUS\": 4\n"
			      "}\n");
	back = json_loads(out.data, 0, NULL);
	CHECK(json_equal(back, vars));
}

static void test_render_empty(void)
{
	json_auto_t *vars = json_object();
	_cleanup_(gdn_buf_freep) struct gdn_buf out = {0};

	CHECK_OK(gd_debug_vars_render(vars, &out), NULL);
	CHECK_STREQ(out.data, "{\n\n}\n");
}

static void mkdirs(const char *rel)
{
	char path[512];
	struct gdn_err *err = NULL;

	(void)snprintf(path, sizeof(path), "%s/%s", tap_tmp, rel);
	CHECK_OK(gdn_fs_mkdir_p(path, 0755, &err), err);
}

static void touch(const char *rel)
{
	char path[512];
	struct gdn_err *err = NULL;

	(void)snprintf(path, sizeof(path), "%s/%s", tap_tmp, rel);
	CHECK_OK(gdn_fs_write_atomic(path, "0\n", 2, 0644, &err), err);
}

static char *in_tmp(const char *rel)
{
	static char path[512];

	(void)snprintf(path, sizeof(path), "%s/%s", tap_tmp, rel);
	return path;
}

static void test_count_entries(void)
{
	mkdirs("d/a");
	mkdirs("d/b");
	touch("d/file");
	CHECK_INTEQ(gd_debug_count_entries(in_tmp("d")), 3);
	mkdirs("empty");
	CHECK_INTEQ(gd_debug_count_entries(in_tmp("empty")), 0);
	CHECK_INTEQ(gd_debug_count_entries(in_tmp("missing")), 0);
	/* a file is not a directory with entries */
	CHECK_INTEQ(gd_debug_count_entries(in_tmp("d/file")), 0);
}

static void test_count_processes(void)
{
	/* h1: one running, one exited; h2: none yet; h3: no processes dir; a stray file */
	mkdirs("depot/h1/processes/p1");
	mkdirs("depot/h1/processes/p2");
	touch("depot/h1/processes/p2/exitcode");
	mkdirs("depot/h1/processes/p3");
	mkdirs("depot/h2/processes");
	mkdirs("depot/h3");
	touch("depot/stray");
	CHECK_INTEQ(gd_debug_count_processes(in_tmp("depot")), 2);
	CHECK_INTEQ(gd_debug_count_processes(in_tmp("no-depot")), 0);
}

static void test_count_loop_devices(void)
{
	/* loop0 and loop7 attached, loop1 free (no loop/ dir), vda not a loop device */
	mkdirs("block/loop0/loop");
	touch("block/loop0/loop/backing_file");
	mkdirs("block/loop1");
	mkdirs("block/loop7/loop");
	touch("block/loop7/loop/backing_file");
	mkdirs("block/vda/loop");
	touch("block/vda/loop/backing_file");
	CHECK_INTEQ(gd_debug_count_loop_devices(in_tmp("block")), 2);
	CHECK_INTEQ(gd_debug_count_loop_devices(in_tmp("no-block")), 0);
}

/* This process's own figures: what the server reports about itself. */
static void test_read_self(void)
{
	struct gd_mem_sources m = {0};
	json_auto_t *cmd = gd_debug_read_cmdline();
	const char *argv0;

	gd_debug_read_mem(&m);
	CHECK(m.vm_data > 0);
	CHECK(m.vm_stk > 0);
	CHECK(json_array_size(cmd) >= 1);
	argv0 = json_string_value(json_array_get(cmd, 0));
	CHECK(argv0 && strstr(argv0, "test_debug_vars"));
}

int main(void)
{
	static const struct tap_test tests[] = {
	    TEST(test_parse_status),
	    TEST(test_memstats),
	    TEST(test_memstats_sys_below_heap),
	    TEST(test_cmdline),
	    TEST(test_render),
	    TEST(test_render_empty),
	    TEST(test_count_entries),
	    TEST(test_count_processes),
	    TEST(test_count_loop_devices),
	    TEST(test_read_self),
	};
	return tap_run(tests, GDN_ARRAY_SIZE(tests));
}
