# garden-c: one non-recursive Makefile. Objects go to build/$(VARIANT)/.
#   make deps | all | test | check | unit | bats | bats-v2 | run | install | uninstall | deb | check-deb
#        | lint | man | fuzz | clean
VARIANT ?= release
BUILD   := build/$(VARIANT)
PREFIX  ?= /usr/local
DESTDIR ?=
CC      ?= gcc

# Debian 12 packages this project needs to build, test and run (make deps installs them).
DEB_PKGS := build-essential pkg-config libnl-3-dev libnl-route-3-dev libiptc-dev libjansson-dev \
	libbsd-dev runc crun iptables bats bats-assert bats-support busybox-static scdoc jq curl \
	iproute2 util-linux bsdutils procps man-db cppcheck clang-format python3 libarchive-dev libmd-dev \
	xfsprogs apparmor qemu-system-x86 ruby mandoc debhelper dpkg-dev fakeroot

# Every binary links libgdn.a plus the libraries it names in <bin>_PKGS (default BASE_PKGS): the
# netlink and iptables libraries only for the networker. Headers of all of them are on the include
# path (lib/ may hold code for any binary; a binary only pulls the objects it uses from the archive).
BASE_PKGS := jansson libbsd
NET_PKGS  := libnl-route-3.0 libiptc
PKGS      := $(BASE_PKGS) $(NET_PKGS) libarchive
kawasaki_PKGS := $(BASE_PKGS) $(NET_PKGS)
# guardian reads and unpacks image layers (libarchive) and checks their digests (libmd)
guardian_PKGS := $(BASE_PKGS) libarchive libmd
# nstar links libarchive too, and the guardian modules it shares (user lookup, volume mount).
nstar_PKGS := $(BASE_PKGS) libarchive
nstar_SRCS := cmd/guardian/users.c cmd/guardian/volumizer.c cmd/guardian/volume_store.c cmd/guardian/quota.c cmd/guardian/disk_usage.c cmd/guardian/mountinfo.c
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
pkg_libs    = $(shell pkg-config --libs $(1) 2>/dev/null)
PKG_LIBS   := $(call pkg_libs,$(BASE_PKGS))

CPPFLAGS += -D_GNU_SOURCE -iquote . $(PKG_CFLAGS)
WARN    := -Wall -Wextra -Werror -Wformat=2 -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wmissing-declarations -Wold-style-definition -Wvla -Wimplicit-fallthrough \
           -Wpointer-arith -Wwrite-strings -Wundef -Wcast-align -Wnull-dereference
WARN_GCC:= -Wjump-misses-init -Wlogical-op -Wduplicated-cond -Wduplicated-branches
CFLAGS  += -std=gnu11 -g -MMD -MP $(WARN) $(if $(findstring clang,$(CC)),,$(WARN_GCC))
ifeq ($(VARIANT),fuzz)
CC      := clang
CFLAGS  += -O1 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined \
           -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=fuzzer,address,undefined
else ifeq ($(VARIANT),asan)
CFLAGS  += -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
else
CFLAGS  += -O2 -U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=3 -fstack-protector-strong \
           -fstack-clash-protection -fcf-protection -fPIE -ffunction-sections -fdata-sections
LDFLAGS += -pie -Wl,-z,relro,-z,now,-z,noexecstack -Wl,--as-needed
endif
LDLIBS  += $(PKG_LIBS)

ifeq ($(V),1)
Q :=
else
Q := @
endif

LIB_SRCS := $(sort $(wildcard lib/*.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
LIBGDN   := $(BUILD)/libgdn.a

# Every cmd/<bin>/ with a main.c is an executable linked against libgdn.a, except cmd/init,
# which is a static, library-free binary that runs inside containers.
BINS     := $(filter-out init,$(notdir $(patsubst %/main.c,%,$(wildcard cmd/*/main.c))))
BIN_PATHS:= $(BINS:%=$(BUILD)/bin/%) $(BUILD)/bin/garden-init

UNIT_SRCS:= $(sort $(wildcard test/unit/test_*.c))
UNIT_BINS:= $(UNIT_SRCS:%.c=$(BUILD)/%)

FUZZ_SRCS:= $(sort $(wildcard test/fuzz/*.c))

MAN_SRCS := $(sort $(wildcard man/*.scd))
MAN_PAGES:= $(MAN_SRCS:man/%.scd=build/man/%)

.PHONY: all deps test check unit bats bats-v2 v2vm-kernel run bins install install-programs uninstall deb check-deb lint man \
	check-man clean rootfs fuzz fuzz-run
all: $(BIN_PATHS) $(UNIT_BINS) man

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(if $(Q),@echo "  CC      $<")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(LIBGDN): $(LIB_OBJS)
	$(if $(Q),@echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

define bin_rule
$(BUILD)/bin/$(1): LDLIBS := $(call pkg_libs,$(or $($(1)_PKGS),$(BASE_PKGS)))
$(BUILD)/bin/$(1): $(patsubst %.c,$(BUILD)/%.o,$(sort $(wildcard cmd/$(1)/*.c)) $($(1)_SRCS)) $(LIBGDN)
	@mkdir -p $$(dir $$@)
	$$(if $$(Q),@echo "  LD      $$@")
	$$(Q)$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(LDLIBS)
endef
$(foreach b,$(BINS),$(eval $(call bin_rule,$(b))))

# dadoo: one per container process, so its idle RSS matters: linked statically it stays under
# 1 MiB (dynamic: ~2 MiB, mostly libc and jansson pages; static-pie: ~1.02 MiB). Nearly all of it
# is the binary's own text (fault-around maps it whole), so unused functions of the lib/ objects
# it pulls in are dropped (-ffunction-sections, --gc-sections: 997 -> 954 kB of text, idle RSS
# 1052 -> 992 kB once lib/run, lib/runtime and lib/gojson came in). Not PIE, so no
# ASLR for dadoo: it only parses input from clients of the Garden API, which is unauthenticated
# and already lets them run anything as root in a container. The ASan variant stays dynamic.
ifneq ($(VARIANT),asan)
$(BUILD)/bin/dadoo: LDFLAGS := $(filter-out -pie,$(LDFLAGS)) -static -Wl,--gc-sections
$(BUILD)/bin/dadoo: LDLIBS := $(shell pkg-config --static --libs jansson libbsd 2>/dev/null)
endif

# garden-init: pid 1 of every container; static so it runs on any rootfs (busybox has no libc).
$(BUILD)/bin/garden-init: cmd/init/main.c lib/version.h
	@mkdir -p $(dir $@)
	$(if $(Q),@echo "  LD      $@ (static)")
	$(Q)$(CC) -std=gnu11 -O2 -D_GNU_SOURCE -iquote . $(WARN) -static -o $@ $<

# Unit tests: test/unit/test_<x>.c links libgdn.a plus, for cmd modules, the objects named in a
# "/* link: cmd/guardian/foo.c ... */" line inside the test source, and the pkg-config libraries
# of a "/* pkgs: libnl-route-3.0 libiptc */" line (default BASE_PKGS).
define unit_rule
$(BUILD)/$(1): LDLIBS := $(call pkg_libs,$(or $(shell sed -n 's|^/\* pkgs: \(.*\) \*/$$|\1|p' $(1).c),$(BASE_PKGS)))
$(BUILD)/$(1): $(1).c test/unit/tap.h $(LIBGDN) $(patsubst %.c,$(BUILD)/%.o,$(shell sed -n 's|^/\* link: \(.*\) \*/$$|\1|p' $(1).c))
	@mkdir -p $$(dir $$@)
	$$(if $$(Q),@echo "  CCLD    $$@")
	$$(Q)$$(CC) $$(CPPFLAGS) $$(CFLAGS) $$(LDFLAGS) -o $$@ $$(filter %.c,$$^) $$(filter %.o,$$^) $$(filter %.a,$$^) $$(LDLIBS)
endef
$(foreach t,$(UNIT_SRCS:%.c=%),$(eval $(call unit_rule,$(t))))

# Fuzz targets (VARIANT=fuzz only): test/fuzz/<t>.c links libgdn.a plus its "link:" objects,
# all built with clang's -fsanitize=fuzzer-no-link; libFuzzer supplies main.
define fuzz_rule
$(BUILD)/$(1): $(BUILD)/$(1).o $(LIBGDN) $(patsubst %.c,$(BUILD)/%.o,$(shell sed -n 's|^/\* link: \(.*\) \*/$$|\1|p' $(1).c))
	@mkdir -p $$(dir $$@)
	$$(if $$(Q),@echo "  LD      $$@")
	$$(Q)$$(CC) $$(LDFLAGS) -o $$@ $$(filter %.o,$$^) $$(filter %.a,$$^) $$(LDLIBS)
endef
ifeq ($(VARIANT),fuzz)
$(foreach t,$(FUZZ_SRCS:%.c=%),$(eval $(call fuzz_rule,$(t))))
endif

# scripts/man-tidy drops the paragraph breaks scdoc puts where mandoc skips them (its lint).
build/man/%: man/%.scd scripts/man-tidy
	@mkdir -p $(dir $@)
	$(if $(Q),@echo "  SCDOC   $@")
	$(Q)SOURCE_DATE_EPOCH=1764288000 scdoc < $< > $@.scdoc && scripts/man-tidy < $@.scdoc > $@.tmp && \
		rm $@.scdoc && mv $@.tmp $@

man: $(MAN_PAGES)

# Any output fails: groff's warnings, mandoc's lint (warnings and worse), and
# scripts/check-man-flags (a long option that `<bin> --help` prints but its page lacks, a
# section 1/8 page without EXIT STATUS).
check-man: all
	@out=$$(for p in $(MAN_PAGES); do LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z $$p 2>&1 >/dev/null; \
		mandoc -Tlint -W warning $$p 2>&1; done); \
	if [ -n "$$out" ]; then echo "$$out"; exit 1; fi
	@scripts/check-man-flags $(BUILD)/bin man

# --- set-up -----------------------------------------------------------------------------------
deps:
	@missing=$$(for p in $(DEB_PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

ROOTFS ?= $(CURDIR)/build/rootfs/busybox
rootfs: $(ROOTFS)/bin/busybox
$(ROOTFS)/bin/busybox: scripts/mkrootfs
	$(Q)scripts/mkrootfs $(ROOTFS)

# --- tests ------------------------------------------------------------------------------------
unit: $(UNIT_BINS)
	prove -f $(UNIT_BINS)

# The suites run with the host FORWARD guard of scripts/net-guard in place (no test packet may
# leave the machine); it is removed afterwards, whatever the outcome.
BATS_RUN = GDN_BUILD=$(CURDIR)/$(BUILD) GDN_ROOTFS=$(ROOTFS) prove -f --comments --exec 'bats --tap'
bats: all rootfs
	scripts/net-guard install
	GDN_RUNTIME=runc $(BATS_RUN) $(BATS_FILES) && \
	GDN_RUNTIME=crun $(BATS_RUN) $(BATS_FILES); \
	status=$$?; scripts/net-guard remove; exit $$status
BATS_FILES ?= test/bats/*.bats

# The cgroup v2 suites: BATS_V2_FILES on runc and crun inside a throw-away VM whose kernel
# (Debian's, extracted into build/v2vm/kernel by v2vm-kernel, never installed) mounts cgroup2
# only; test/v2vm/run boots it (qemu, no network device), test/v2vm/bats runs the files there
# and test/v2vm/known-failures lists the failures expected for now. Skipped, not failed, where
# /dev/kvm is absent. BUILD and ROOTFS must be inside this worktree (the VM sees only it, /usr
# and /etc).
BATS_V2_FILES ?= test/bats/30-guardian-create.bats test/bats/32-guardian-security.bats \
		 test/bats/62-guardian-metrics.bats test/bats/66-guardian-oom.bats \
		 test/bats/68-guardian-peas.bats
V2VM_TIMEOUT  ?= 2700
v2vm-kernel:
	test/v2vm/fetch-kernel build/v2vm/kernel
# (test/v2vm/run does v2vm-kernel itself, after finding that /dev/kvm is there.)
bats-v2: all rootfs
	test/v2vm/run -t $(V2VM_TIMEOUT) test/v2vm/bats $(BUILD) $(ROOTFS) $(BATS_V2_FILES)

# libFuzzer over the parsers of untrusted input; not part of check (CI time). Each target runs
# FUZZ_SECONDS from its seeds in test/fuzz/corpus/<t>/; new inputs go to build/fuzz/corpus/<t>/,
# crashes to build/fuzz/artifacts/<t>/. FUZZ_TARGETS picks some, FUZZ_FLAGS adds libFuzzer flags.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= $(notdir $(FUZZ_SRCS:%.c=%))
FUZZ_FLAGS   ?=
fuzz:
	@command -v clang >/dev/null 2>&1 || \
		{ echo "fuzz: clang (with libFuzzer) is needed: apt-get install clang"; exit 1; }
	$(MAKE) VARIANT=fuzz fuzz-run

fuzz-run: $(FUZZ_TARGETS:%=$(BUILD)/test/fuzz/%)
	@for t in $(FUZZ_TARGETS); do \
		max=$$(sed -n 's|^/\* max_len: \([0-9]*\) \*/$$|\1|p' test/fuzz/$$t.c); \
		mkdir -p $(BUILD)/corpus/$$t $(BUILD)/artifacts/$$t; \
		echo "  FUZZ    $$t ($(FUZZ_SECONDS)s, max_len $${max:-4096})"; \
		$(BUILD)/test/fuzz/$$t -max_total_time=$(FUZZ_SECONDS) -max_len=$${max:-4096} \
			-timeout=10 -print_final_stats=1 -artifact_prefix=$(BUILD)/artifacts/$$t/ \
			$(FUZZ_FLAGS) $(BUILD)/corpus/$$t test/fuzz/corpus/$$t || exit 1; \
	done

check: all check-man
	$(MAKE) VARIANT=asan unit
	$(MAKE) unit
	$(MAKE) bats
	$(MAKE) check-deb CHECK_DEB_LOCK=

test: deps
	$(MAKE) lint
	$(MAKE) check
	$(MAKE) bats-v2

# --- running ----------------------------------------------------------------------------------
RUN_DEPOT  ?= /var/run/gdn/depot
RUN_SOCKET ?= /tmp/garden.sock
run: deps
	$(MAKE) all rootfs
	@echo "guardian: listening on $(RUN_SOCKET) and 127.0.0.1:7777 (depot $(RUN_DEPOT))"
	@echo "try:      $(BUILD)/bin/gaol create -n hello && $(BUILD)/bin/gaol list"
	exec $(BUILD)/bin/guardian server --bind-socket $(RUN_SOCKET) --bind-ip 127.0.0.1 \
		--bind-port 7777 --depot $(RUN_DEPOT) --default-rootfs $(ROOTFS) \
		--init-bin $(CURDIR)/$(BUILD)/bin/garden-init

# FHS install: PREFIX (default /usr/local) for the programs, DESTDIR for a staging root. The
# units and configs name /usr/bin, /usr/libexec and /etc: rewritten to PREFIX and SYSCONFDIR.
# A config that is there already (an operator's) is left alone; uninstall removes one only if it
# is still what install wrote.
VERSION        := $(shell sed -n 's/^\#define GDN_VERSION "\(.*\)"$$/\1/p' lib/version.h)
SYSCONFDIR     ?= /etc
SYSTEMDUNITDIR ?= /lib/systemd/system
LIBEXECDIR      = $(PREFIX)/libexec/garden-c
UNITS          := packaging/systemd/kawasaki.service packaging/systemd/garden.service
CONFIGS        := packaging/config/config.ini packaging/config/kawasaki.ini
INSTALL_SED     = sed -e 's|/usr/bin/|$(PREFIX)/bin/|g' -e 's|/usr/libexec/|$(PREFIX)/libexec/|g' \
		      -e 's|/etc/garden/|$(SYSCONFDIR)/garden/|g'

bins: $(BIN_PATHS)

# install-programs: only what lives under PREFIX (the BOSH package uses it: no units, no /etc).
install-programs: bins man
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(LIBEXECDIR) \
		$(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man5 \
		$(DESTDIR)$(PREFIX)/share/man/man8
	install -m 0755 $(BINS:%=$(BUILD)/bin/%) $(DESTDIR)$(PREFIX)/bin/
	install -m 0755 $(BUILD)/bin/garden-init $(DESTDIR)$(LIBEXECDIR)/
	install -m 0755 scripts/mkrootfs $(DESTDIR)$(LIBEXECDIR)/mkrootfs
	for p in $(MAN_PAGES); do s=$${p##*.}; install -m 0644 $$p $(DESTDIR)$(PREFIX)/share/man/man$$s/; done

install: install-programs
	install -d $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(SYSCONFDIR)/garden
	for u in $(UNITS); do \
		$(INSTALL_SED) $$u > $(DESTDIR)$(SYSTEMDUNITDIR)/$${u##*/} && \
		chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/$${u##*/} || exit 1; \
	done
	for c in $(CONFIGS); do d=$(DESTDIR)$(SYSCONFDIR)/garden/$${c##*/}; \
		if [ -e $$d ]; then echo "install: keeping $$d"; \
		else $(INSTALL_SED) $$c > $$d && chmod 0644 $$d || exit 1; fi; \
	done
	@[ -n "$(DESTDIR)" ] || echo "install: done; systemctl daemon-reload, then" \
		"$(LIBEXECDIR)/mkrootfs /var/lib/garden/rootfs/busybox and systemctl start garden"

uninstall:
	rm -f $(BINS:%=$(DESTDIR)$(PREFIX)/bin/%) $(DESTDIR)$(LIBEXECDIR)/garden-init \
		$(DESTDIR)$(LIBEXECDIR)/mkrootfs
	rmdir $(DESTDIR)$(LIBEXECDIR) 2>/dev/null || true
	for p in $(MAN_SRCS:man/%.scd=%); do s=$${p##*.}; rm -f $(DESTDIR)$(PREFIX)/share/man/man$$s/$$p; done
	rm -f $(UNITS:packaging/systemd/%=$(DESTDIR)$(SYSTEMDUNITDIR)/%)
	for c in $(CONFIGS); do d=$(DESTDIR)$(SYSCONFDIR)/garden/$${c##*/}; \
		if [ -e $$d ] && $(INSTALL_SED) $$c | cmp -s - $$d; then rm -f $$d; \
		elif [ -e $$d ]; then echo "uninstall: keeping $$d (changed)"; fi; \
	done
	rmdir $(DESTDIR)$(SYSCONFDIR)/garden 2>/dev/null || true

# The Debian package (packaging/debian/, debhelper), built from a copy of the tracked files in
# build/deb/src so that the worktree stays clean: build/deb/garden-c_$(VERSION)_<arch>.deb.
DEB_DIR := build/deb
deb:
	rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)/src
	if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then \
		git ls-files -z | tar --null --ignore-failed-read -T - -cf - | tar -C $(DEB_DIR)/src -xf -; \
	else \
		tar --exclude=./build -cf - . | tar -C $(DEB_DIR)/src -xf -; \
	fi
	rm -rf $(DEB_DIR)/src/debian && cp -a packaging/debian $(DEB_DIR)/src/debian
	printf '%s\n' "garden-c ($(VERSION)) unstable; urgency=medium" "" \
		"  * garden-c $(VERSION) (built by make deb)." "" \
		" -- garden-c developers <garden-c@localhost>  $$(date -R -d @$${SOURCE_DATE_EPOCH:-1764288000})" \
		> $(DEB_DIR)/src/debian/changelog
	cd $(DEB_DIR)/src && DEB_BUILD_OPTIONS="nocheck $${DEB_BUILD_OPTIONS:-}" \
		dpkg-buildpackage -b -us -uc
	@ls $(DEB_DIR)/garden-c_$(VERSION)_*.deb

# Installs that package into a throw-away overlay of / in a private mount namespace and runs the
# installed units' commands there (test/deb/check); the same lock and FORWARD guard as bats.
# CHECK_DEB_LOCK= for a caller that holds /tmp/gdn-bats.lock already (check does not take it,
# as bats does not: CI holds it around the whole run).
CHECK_DEB_LOCK ?= flock /tmp/gdn-bats.lock
check-deb: deb
	$(CHECK_DEB_LOCK) sh -c 'scripts/net-guard install; test/deb/check $(DEB_DIR)/garden-c_$(VERSION)_*.deb; \
		s=$$?; scripts/net-guard remove; exit $$s'

# --- hygiene ----------------------------------------------------------------------------------
LINT_SRCS = $(shell find lib cmd test/unit test/fuzz -name '*.[ch]')
lint:
	@clang-format --dry-run -Werror $(LINT_SRCS)
	@! grep -nE '\b(dup|pipe|sprintf|strcpy|atoi|system|popen)\(' $(LINT_SRCS) || \
		{ echo "lint: forbidden call (use F_DUPFD_CLOEXEC, pipe2, snprintf, strlcpy, gdn_parse_*, gdn_spawn)"; exit 1; }
	@scripts/lint-cloexec $(LINT_SRCS)
	@cppcheck -q --error-exitcode=1 --enable=warning,portability --inline-suppr \
		--suppress=missingIncludeSystem --suppress=varFuncNullUB -D_GNU_SOURCE -I. lib cmd
	@echo "lint: clean"

clean:
	rm -rf build

-include $(LIB_OBJS:.o=.d) $(shell find $(BUILD) -name '*.d' 2>/dev/null)
