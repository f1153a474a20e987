/* A Create body with image plugins (cmd/guardian/spec.c): which rootfs goes to which plugin,
 * raw:// to the built-in volumizer, the disk limit's scope and the registry credentials. */
/* link: cmd/guardian/spec.c */
#include <string.h>

#include "test/unit/tap.h"
#include "lib/imageplugin.h"
#include "cmd/guardian/spec.h"

static struct gd_config plugins(bool unpriv, bool priv)
{
	struct gd_config cfg = {.default_rootfs = "docker:///cflinuxfs4",
				.image_plugins_used = true};

	cfg.image_plugin_have[GDN_IMAGEPLUGIN_UNPRIVILEGED] = unpriv;
	cfg.image_plugin_have[GDN_IMAGEPLUGIN_PRIVILEGED] = priv;
	return cfg;
}

static void parse_ok(const struct gd_config *cfg, const char *body, struct gd_create_spec *s)
{
	struct gdn_err *err = NULL;
	uint64_t grace = 0;

	CHECK_OK(gd_spec_parse(cfg, body, strlen(body), s, &grace, &err), err);
}

static void parse_err(const struct gd_config *cfg, const char *body, const char *want)
{
	struct gd_create_spec s = {0};
	struct gdn_err *err = NULL;
	uint64_t grace = 0;

	CHECK(gd_spec_parse(cfg, body, strlen(body), &s, &grace, &err) < 0);
	CHECK_STREQ(gdn_err_str(err), want);
	CHECK(s.handle == NULL && s.image_uri == NULL);
	gdn_err_free(err);
}

static void test_uri_goes_to_the_plugin(void)
{
	struct gd_config cfg = plugins(true, true);
	struct gd_create_spec s = {0};

	/* image.uri, passed as given ('#' is the plugin argv's business) */
	parse_ok(&cfg, "{\"handle\":\"h\",\"image\":{\"uri\":\"docker:///busybox#1.36\"}}", &s);
	CHECK_STREQ(s.image_uri, "docker:///busybox#1.36");
	CHECK(s.rootfs == NULL && s.image_username == NULL && s.image_password == NULL);
	gd_spec_free(&s);
	/* rootfs, a plain path too */
	parse_ok(&cfg, "{\"handle\":\"h\",\"rootfs\":\"/var/rootfs.tar\"}", &s);
	CHECK_STREQ(s.image_uri, "/var/rootfs.tar");
	gd_spec_free(&s);
	/* none: --default-rootfs, even a URI */
	parse_ok(&cfg, "{\"handle\":\"h\",\"privileged\":true}", &s);
	CHECK_STREQ(s.image_uri, "docker:///cflinuxfs4");
	CHECK(s.privileged);
	gd_spec_free(&s);
	/* credentials and the disk limit's scope */
	parse_ok(&cfg,
		 "{\"handle\":\"h\",\"image\":{\"uri\":\"docker:///x\",\"username\":\"u\","
		 "\"password\":\"p\"},\"limits\":{\"disk_limits\":{\"byte_hard\":10,\"scope\":1}}}",
		 &s);
	CHECK_STREQ(s.image_username, "u");
	CHECK_STREQ(s.image_password, "p");
	CHECK(s.limits.disk_byte_hard == 10 && s.limits.disk_exclusive);
	gd_spec_free(&s);
	parse_ok(&cfg,
		 "{\"handle\":\"h\",\"limits\":{\"disk_limits\":{\"byte_hard\":10,\"scope\":0}}}",
		 &s);
	CHECK(s.limits.disk_byte_hard == 10 && !s.limits.disk_exclusive);
	gd_spec_free(&s);
}

static void test_raw_goes_to_the_volumizer(void)
{
	struct gd_config cfg = plugins(false, false);
	struct gd_create_spec s = {0};
	char real[4096];

	/* no plugin is needed for raw:// */
	CHECK(realpath(tap_tmp, real));
	{
		char body[4200];

		(void)snprintf(body, sizeof(body), "{\"handle\":\"h\",\"rootfs\":\"raw://%s\"}",
			       tap_tmp);
		parse_ok(&cfg, body, &s);
	}
	CHECK(s.image_uri == NULL);
	CHECK_STREQ(s.rootfs, real);
	gd_spec_free(&s);
}

static void test_selection_errors(void)
{
	struct gd_config only_unpriv = plugins(true, false), only_priv = plugins(false, true);
	struct gd_config both = plugins(true, true);

	parse_err(&only_unpriv, "{\"handle\":\"h\",\"privileged\":true}",
		  "no privileged_image_plugin provided");
	parse_err(&only_priv, "{\"handle\":\"h\"}", "no image_plugin provided");
	parse_err(&both, "{\"handle\":\"h\",\"rootfs\":\"/a\",\"image\":{\"uri\":\"/b\"}}",
		  "Cannot provide both Image.URI and RootFSPath");
	parse_err(&both, "{\"handle\":\"h\",\"limits\":{\"disk_limits\":{\"scope\":256}}}",
		  "json: cannot unmarshal number 256 into Go struct field DiskLimits.scope of type "
		  "garden.DiskLimitScope");
	parse_err(&both, "{\"handle\":\"h\",\"image\":{\"username\":5}}",
		  "json: cannot unmarshal number into Go struct field ImageRef.username of type "
		  "string");
}

int main(void)
{
	static const struct tap_test tests[] = {
	    TEST(test_uri_goes_to_the_plugin),
	    TEST(test_raw_goes_to_the_volumizer),
	    TEST(test_selection_errors),
	};
	return tap_run(tests, GDN_ARRAY_SIZE(tests));
}
