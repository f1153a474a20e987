/* link: cmd/guardian/container_flags.c */
#include <errno.h>
#include <string.h>

#include "test/unit/tap.h"
#include "cmd/guardian/container_flags.h"

static void test_device_rules(void)
{
	struct gd_device_rule r;
	struct gdn_err *err = NULL;

	CHECK_OK(gd_device_rule_parse("c 10:229 rwm", &r, &err), err);
	CHECK(r.type == 'c' && r.major == 10 && r.minor == 229);
	CHECK_STREQ(r.access, "rwm");
	CHECK_OK(gd_device_rule_parse("a *:* m", &r, &err), err);
	CHECK(r.type == 'a' && r.major == -1 && r.minor == -1);
	CHECK_OK(gd_device_rule_parse("b 7:* r", &r, &err), err);
	CHECK(r.major == 7 && r.minor == -1);

	const char *const bad[] = {"",
				   "c",
				   "x 1:1 r",
				   "c1:1 r",
				   "c 1 r",
				   "c 1:1",
				   "c 1:1 ",
				   "c 1:1 rwmx",
				   "c 1:1 q",
				   "c a:1 r",
				   "c 1:99999999999 r",
				   "c 1:1 rr",
				   "c -1:1 r"};
	for (size_t i = 0; i < GDN_ARRAY_SIZE(bad); i++) {
		err = NULL;
		CHECK_INTEQ(gd_device_rule_parse(bad[i], &r, &err), -EINVAL);
		CHECK(strstr(gdn_err_str(err), "--device-cgroup-rule: '") != NULL);
		gdn_err_free(err);
	}
}

static void test_flags(void)
{
	struct gd_config cfg = {0};
	struct gdn_err *err = NULL;

	CHECK_OK(gd_container_flag(GD_OPT_BLOCKIO_WEIGHT, "300", &cfg, &err), err);
	CHECK_INTEQ(cfg.blockio_weight, 300);
	CHECK_INTEQ(gd_container_flag(GD_OPT_BLOCKIO_WEIGHT, "5", &cfg, &err), -EINVAL);
	CHECK(strstr(gdn_err_str(err), "5 is below 10") != NULL);
	err = gdn_err_free(err);
	CHECK_INTEQ(gd_container_flag(GD_OPT_BLOCKIO_WEIGHT, "1001", &cfg, &err), -EINVAL);
	err = gdn_err_free(err);
	CHECK_OK(gd_container_flag(GD_OPT_BLOCKIO_WEIGHT, "0", &cfg, &err), err);
	CHECK_INTEQ(cfg.blockio_weight, 0);
	CHECK_OK(gd_container_flag(GD_OPT_CPU_QUOTA_PER_SHARE, "25", &cfg, &err), err);
	CHECK_INTEQ(cfg.cpu_quota_per_share, 25);
	CHECK_INTEQ(gd_container_flag(GD_OPT_CPU_QUOTA_PER_SHARE, "x", &cfg, &err), -EINVAL);
	err = gdn_err_free(err);
	CHECK_OK(gd_container_flag(GD_OPT_DEVICE_CGROUP_RULE, "c 1:11 rw", &cfg, &err), err);
	CHECK_OK(gd_container_flag(GD_OPT_DEVICE_CGROUP_RULE, "b *:* m", &cfg, &err), err);
	CHECK_INTEQ(cfg.n_device_rules, 2);
	CHECK(cfg.device_rules[1].type == 'b');
	CHECK_OK(gd_container_flag(GD_OPT_NO_NEW_PRIVILEGES, NULL, &cfg, &err), err);
	CHECK_OK(gd_container_flag(GD_OPT_DISABLE_SWAP_LIMIT, NULL, &cfg, &err), err);
	CHECK(cfg.no_new_privileges && cfg.disable_swap_limit);
	CHECK_OK(gd_container_flag(GD_OPT_APPARMOR, "", &cfg, &err), err);
	CHECK(cfg.apparmor_profile == NULL);
	CHECK_OK(gd_container_flags_finish(&cfg, &err), err);
}

int main(void)
{
	static const struct tap_test tests[] = {
	    TEST(test_device_rules),
	    TEST(test_flags),
	};
	return tap_run(tests, GDN_ARRAY_SIZE(tests));
}
