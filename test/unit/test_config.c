#include <errno.h>
#include <string.h>
#include "lib/config.h"
#include "test/unit/tap.h"

static const struct option opts[] = {
    {"depot", required_argument, NULL, 1}, {"extra-arg", required_argument, NULL, 2},
    {"skip-setup", no_argument, NULL, 3},  {"debug", no_argument, NULL, 4},
    {"help", no_argument, NULL, 'h'},	   {NULL, 0, NULL, 0},
};
static const char *const refused[] = {"help", NULL};

static char *joined(char **v)
{
	static char buf[1024];
	buf[0] = '\0';
	for (; v && *v; v++) {
		strcat(buf, *v);
		strcat(buf, "|");
	}
	return buf;
}

static void test_parse(void)
{
	struct gdn_err *err = NULL;
	char **args = NULL;
	size_t n = 0;

	CHECK_OK(gdn_config_parse("f",
				  "; comment\n# too\n\n[server]\n  depot = /x y \r\n"
				  "extra-arg = a\nextra-arg=\"--b c\"\nskip-setup = true\n"
				  "debug = false\n",
				  "server", opts, refused, &args, &n, &err),
		 err);
	CHECK_INTEQ(n, 4);
	CHECK_STREQ(joined(args), "--depot=/x y|--extra-arg=a|--extra-arg=--b c|--skip-setup|");
	gdn_config_free(args);
	CHECK_OK(gdn_config_parse("f", "", "server", opts, refused, &args, &n, &err), err);
	CHECK(n == 0 && args && !args[0]);
	gdn_config_free(args);
}

static void expect(const char *text, const char *msg)
{
	struct gdn_err *err = NULL;
	char **args = NULL;
	size_t n = 0;

	CHECK(gdn_config_parse("cfg.ini", text, "server", opts, refused, &args, &n, &err) ==
	      -EINVAL);
	CHECK_STREQ(gdn_err_str(err), msg);
	CHECK(args == NULL);
	gdn_err_free(err);
}

static void test_errors(void)
{
	expect("[server]\n\nbogus = 1\n", "cfg.ini:3: unknown key 'bogus'");
	expect("[server]\nhelp = true\n", "cfg.ini:2: unknown key 'help'");
	expect("depot = /x\n", "cfg.ini:1: 'depot = /x' is outside the [server] section");
	expect("[other]\n", "cfg.ini:1: unknown section [other] (only [server])");
	expect("[server\n", "cfg.ini:1: bad section header '[server'");
	expect("[server]\ndepot\n", "cfg.ini:2: expected 'key = value', got 'depot'");
	expect("[server]\nskip-setup = yes\n",
	       "cfg.ini:2: 'skip-setup' takes true or false, not 'yes'");
}

static void test_merge(void)
{
	struct gdn_err *err = NULL;
	char f0[] = "--depot=/f", f1[] = "--extra-arg=1", f2[] = "--extra-arg=2",
	     f3[] = "--skip-setup";
	char a0[] = "prog", a1[] = "--extra-arg", a2[] = "--depot", a3[] = "--debug",
	     a4[] = "--depot=/c";
	char *file[] = {f0, f1, f2, f3, NULL};
	char *argv[] = {a0, a1, a2, a3, NULL};
	char **out = NULL;
	int argc = 0;

	/* --depot here is --extra-arg's value: the file's depot stays, its extra args go */
	CHECK_OK(gdn_config_merge(file, 4, 4, argv, opts, &out, &argc, &err), err);
	CHECK_INTEQ(argc, 6);
	CHECK_STREQ(joined(out), "prog|--depot=/f|--skip-setup|--extra-arg|--depot|--debug|");
	free(out);
	char *argv2[] = {a0, a4, NULL};
	CHECK_OK(gdn_config_merge(file, 4, 2, argv2, opts, &out, &argc, &err), err);
	CHECK_STREQ(joined(out), "prog|--extra-arg=1|--extra-arg=2|--skip-setup|--depot=/c|");
	free(out);
}

int main(void)
{
	static const struct tap_test tests[] = {
	    TEST(test_parse),
	    TEST(test_errors),
	    TEST(test_merge),
	};
	return tap_run(tests, GDN_ARRAY_SIZE(tests));
}
