# vhsm - virtual HSM for AMD SEV-SNP confidential VMs
#
#   make [V=1] [SANITIZE=1] [BUILDDIR=dir]   build everything
#   make check                               unit + fuzz-corpus replay + integration tests
#   make check SANITIZE=1                    the same under ASan+UBSan
#   make fuzz                                libFuzzer targets (clang 14), short smoke
#   make fuzz-campaign                       10 million executions per harness (docs/fuzzing.md)
#   make bench                               benchmarks
#   make install [DESTDIR=] [PREFIX=/usr] [WITH_SIM=1]
#   make deb                                 Debian packages in ../ (dpkg-buildpackage, debian/)
#
# Dependencies: scripts/install-deps.sh (Debian 12 packages).

VERSION := 0.1.0
PREFIX ?= /usr
BINDIR ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
LIBDIR ?= $(PREFIX)/lib/$(shell $(CC) -dumpmachine 2>/dev/null || echo x86_64-linux-gnu)
PKGLIBDIR ?= $(LIBDIR)/vhsm
MANDIR ?= $(PREFIX)/share/man
DOCDIR ?= $(PREFIX)/share/doc/vhsm
SYSCONFDIR ?= /etc
PKG_CONFIG ?= pkg-config
SYSTEMDUNITDIR ?= $(shell $(PKG_CONFIG) --variable=systemdsystemunitdir systemd 2>/dev/null || echo /lib/systemd/system)
UDEVDIR ?= $(shell $(PKG_CONFIG) --variable=udevdir udev 2>/dev/null || echo /lib/udev)
# Where libcryptsetup and dracut look, whatever PREFIX is: libcryptsetup loads token plugins
# only from $(libdir)/cryptsetup of its own build (Debian 12: /lib/<triplet>/cryptsetup), and
# dracut reads modules only from its own modules.d.
# On a merged-/usr system /lib is /usr/lib: the canonical path is the one to install to.
TOKENDIR ?= $(shell d=$$($(PKG_CONFIG) --variable=libdir libcryptsetup 2>/dev/null) && [ -n "$$d" ] && echo $$(readlink -f $$d)/cryptsetup || echo $(LIBDIR)/cryptsetup)
# initramfs-tools reads hooks and scripts only from its own directory, and cryptsetup-initramfs
# resolves crypttab keyscript=NAME in /lib/cryptsetup/scripts.
INITRAMFSDIR ?= /usr/share/initramfs-tools
KEYSCRIPTDIR ?= /lib/cryptsetup/scripts
# PKCS#11: the module under LIBDIR (p11-kit resolves relative module paths in its own
# p11_module_path; ssh-agent's default allow-list is /usr/lib*/* and /usr/local/lib*/*), its
# registration where p11-kit reads registrations, whatever PREFIX is, naming the module by its
# absolute path.
P11MODULEDIR ?= $(LIBDIR)/pkcs11
P11CONFDIR ?= $(shell $(PKG_CONFIG) --variable=p11_module_configs p11-kit-1 2>/dev/null || echo /usr/share/p11-kit/modules)
DRACUTMODDIR ?= $(shell $(PKG_CONFIG) --variable=dracutmodulesdir dracut 2>/dev/null || echo /usr/lib/dracut/modules.d)
# bash-completion also searches $(PREFIX)/share through XDG_DATA_DIRS (/usr/local/share first).
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
DESTDIR ?=
WITH_SIM ?= 0

ifeq ($(SANITIZE),1)
BUILDDIR ?= build-asan
else
BUILDDIR ?= build
endif
B := $(BUILDDIR)

PKGS := libcrypto libssl json-c libsystemd libkeyutils libcryptsetup devmapper
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS))
PKG_LIBS := $(shell $(PKG_CONFIG) --libs $(PKGS))
# libcurl's header only: lib/http-fetch.c loads libcurl.so.4 when collateral is fetched (linked,
# it and its ~30 libraries would cost every start of vhsmctl and vhsm-byok).
CURL_CFLAGS := $(shell $(PKG_CONFIG) --cflags libcurl)
# The TPM software stack (ESAPI) only for what reads the vTPM (vhsmctl, vhsmd, the simulator's
# HCL mode, the unit tests that link vhsmd's modules).
TSS_LIBS := $(shell $(PKG_CONFIG) --libs tss2-esys tss2-tctildr tss2-mu)
# vhsmctl loads libcryptsetup and libdevmapper when a volume verb needs them
# (cli/dl-cryptsetup.c): not linked, so that other verbs do not pay for loading them.
CLI_LIBS := $(shell $(PKG_CONFIG) --libs $(filter-out libcryptsetup devmapper,$(PKGS)))

WARN := -Wall -Wextra -Werror -Wformat=2 -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wvla -Wimplicit-fallthrough -Wcast-qual -Wwrite-strings -Wundef
HARDEN := -fstack-protector-strong -fstack-clash-protection -fcf-protection=full \
	-ftrivial-auto-var-init=zero -fzero-call-used-regs=used-gpr
ifeq ($(SANITIZE),1)
OPT := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
SANLD := -fsanitize=address,undefined
else
OPT := -O2 -g -U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=3
SANLD :=
endif

VHSM_CFLAGS := -std=gnu11 -D_GNU_SOURCE $(OPT) $(WARN) $(HARDEN) -fvisibility=hidden -fPIC \
	-MMD -MP -Ilib -Iinclude $(PKG_CFLAGS) $(CURL_CFLAGS) \
	-DVHSM_SIM_MODULE_DEFAULT=\"$(PKGLIBDIR)/vhsm-snp-sim.so\" \
	-DVHSM_VERSION=\"$(VERSION)\"
VHSM_LDFLAGS := -Wl,-z,relro,-z,now,-z,noexecstack,--as-needed $(SANLD)
ALL_CFLAGS = $(VHSM_CFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(VHSM_LDFLAGS) $(LDFLAGS)

ifeq ($(V),1)
Q :=
else
Q := @
endif

LIB_SRCS := $(wildcard lib/*.c)
LIB_OBJS := $(LIB_SRCS:%.c=$(B)/%.o)
CLI_SRCS := $(wildcard cli/*.c)
CLI_OBJS := $(CLI_SRCS:%.c=$(B)/%.o)
BYOK_SRCS := $(wildcard byok/*.c)
BYOK_OBJS := $(BYOK_SRCS:%.c=$(B)/%.o)
# vhsm-byok only needs PKCS#11 type definitions (p11-kit's header); modules are dlopen'ed.
P11_CFLAGS := $(shell $(PKG_CONFIG) --cflags p11-kit-1)
FLEET_SRCS := $(wildcard fleet/*.c)
FLEET_OBJS := $(FLEET_SRCS:%.c=$(B)/%.o)
DAEMON_SRCS := $(wildcard daemon/*.c)
DAEMON_OBJS := $(DAEMON_SRCS:%.c=$(B)/%.o)
# sim/: sim-*.c is the simulator core (module + tool); vhsm-snp-sim.c is the tool's main.
SIM_CORE_SRCS := $(wildcard sim/sim-*.c)
SIM_CORE_OBJS := $(SIM_CORE_SRCS:%.c=$(B)/%.o)
TOKEN_SRCS := $(wildcard token/*.c)
TOKEN_OBJS := $(TOKEN_SRCS:%.c=$(B)/%.o)
PKCS11_SRCS := $(wildcard pkcs11/*.c)
PKCS11_OBJS := $(PKCS11_SRCS:%.c=$(B)/%.o)
UNIT_SRCS := $(wildcard tests/unit/*.c)
UNIT_OBJS := $(UNIT_SRCS:%.c=$(B)/%.o)
FUZZ_TARGETS := $(patsubst tests/fuzz/fuzz-%.c,%,$(filter-out tests/fuzz/fuzz-main.c,$(wildcard tests/fuzz/fuzz-*.c)))

PROGRAMS := $(B)/vhsmctl $(B)/vhsm-byok $(B)/vhsm-fleet $(B)/vhsm-snp-sim $(B)/vhsm-snp-sim.so $(B)/vhsm-request-key \
	$(B)/token/libcryptsetup-token-vhsm.so $(B)/libvhsm-pkcs11.so
ifneq ($(DAEMON_SRCS),)
PROGRAMS += $(B)/vhsmd
endif
TESTS := $(B)/test-unit $(FUZZ_TARGETS:%=$(B)/fuzz-replay-%) $(B)/test-p11-setup $(B)/test-p11-module-check $(B)/test-kmip-tool \
	$(B)/test-tpm2-seal-tool $(B)/vhsmd-fleet-test

.PHONY: demo
# Keep intermediate objects (fuzz harness objects are built through a pattern chain).
.SECONDARY:
.PHONY: all check check-unit check-fuzz-corpus check-integration check-vm check-vm-initrd check-vm-initramfs fuzz \
	fuzz-campaign bench install install-sim clean lint man-lint analyze programs deb
all: $(PROGRAMS) $(TESTS)
# What install needs (the packaging builds only this).
programs: $(PROGRAMS)

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/pkcs11/%.o: pkcs11/%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) $(P11_CFLAGS) -c -o $@ $<

$(B)/byok/%.o: byok/%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) $(P11_CFLAGS) -c -o $@ $<

# The simulator module's path is compiled in: rebuild what uses it when PKGLIBDIR changes
# (make install PREFIX=/usr/local after a plain make).
$(B)/paths.stamp: FORCE
	@mkdir -p $(dir $@)
	@echo '$(PKGLIBDIR)' | cmp -s - $@ || echo '$(PKGLIBDIR)' >$@
$(B)/lib/snp-dev.o: $(B)/paths.stamp
.PHONY: FORCE
FORCE:

$(B)/libvhsm.a: $(LIB_OBJS)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(B)/vhsmctl: $(CLI_OBJS) $(B)/libvhsm.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -pie $(ALL_LDFLAGS) -o $@ $(CLI_OBJS) $(B)/libvhsm.a $(CLI_LIBS) $(TSS_LIBS) -ldl

$(B)/vhsm-byok: $(BYOK_OBJS) $(B)/libvhsm.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -pie $(ALL_LDFLAGS) -o $@ $(BYOK_OBJS) $(B)/libvhsm.a $(PKG_LIBS) -ldl

$(B)/vhsm-fleet: $(FLEET_OBJS) $(B)/libvhsm.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -pie $(ALL_LDFLAGS) -o $@ $(FLEET_OBJS) $(B)/libvhsm.a $(PKG_LIBS)

$(B)/vhsmd: $(DAEMON_OBJS) $(B)/libvhsm.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -pie $(ALL_LDFLAGS) -o $@ $(DAEMON_OBJS) $(B)/libvhsm.a $(PKG_LIBS) $(TSS_LIBS) -ldl

# vhsmd for the fleet tests only (never installed): its fleet TLS identity is an unsealed PEM
# key in the state directory, on the simulator only (tests/helpers/fleet-identity-test.c,
# standing in for fleet_identity_tls() through the linker).
FLEET_TEST_DAEMON_OBJS := $(DAEMON_OBJS) $(B)/tests/helpers/fleet-identity-test.o
$(B)/vhsmd-fleet-test: $(FLEET_TEST_DAEMON_OBJS) $(B)/libvhsm.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -pie $(ALL_LDFLAGS) -Wl,--wrap=fleet_identity_tls -o $@ $(FLEET_TEST_DAEMON_OBJS) \
		$(B)/libvhsm.a $(PKG_LIBS) $(TSS_LIBS) -ldl

$(B)/vhsm-request-key: $(B)/kmod-helpers/vhsm-request-key.o $(B)/libvhsm.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -pie $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) -ldl

$(B)/vhsm-snp-sim: $(B)/sim/vhsm-snp-sim.o $(B)/sim/hcl-mode.o $(SIM_CORE_OBJS) $(B)/libvhsm.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -pie $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) $(TSS_LIBS) -ldl

$(B)/vhsm-snp-sim.so: $(SIM_CORE_OBJS) $(B)/libvhsm.a sim/sim.sym
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -shared $(ALL_LDFLAGS) -Wl,-z,defs -Wl,--version-script=sim/sim.sym -o $@ \
		$(SIM_CORE_OBJS) $(B)/libvhsm.a $(PKG_LIBS) -ldl

# The LUKS2 token plugin: only the version script's symbols are exported; -z defs catches a
# missing library at link time instead of at dlopen in the middle of a boot.
$(B)/token/libcryptsetup-token-vhsm.so: $(TOKEN_OBJS) $(B)/libvhsm.a token/token.sym
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -shared $(ALL_LDFLAGS) -Wl,-z,defs -Wl,--version-script=token/token.sym -o $@ \
		$(TOKEN_OBJS) $(B)/libvhsm.a $(PKG_LIBS) -ldl

# Unit tests link the simulator core and the daemon's modules (not its main) to test them.
# The PKCS#11 module: only C_GetFunctionList is exported (pkcs11/pkcs11.sym).
$(B)/libvhsm-pkcs11.so: $(PKCS11_OBJS) $(B)/libvhsm.a pkcs11/pkcs11.sym
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -shared $(ALL_LDFLAGS) -Wl,-z,defs -Wl,--version-script=pkcs11/pkcs11.sym -o $@ \
		$(PKCS11_OBJS) $(B)/libvhsm.a $(PKG_LIBS) -ldl -lpthread

DAEMON_LIB_OBJS := $(filter-out $(B)/daemon/main.o,$(DAEMON_OBJS))
$(B)/test-unit: $(UNIT_OBJS) $(SIM_CORE_OBJS) $(DAEMON_LIB_OBJS) $(B)/libvhsm.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -pie $(ALL_LDFLAGS) -o $@ $(UNIT_OBJS) $(SIM_CORE_OBJS) $(DAEMON_LIB_OBJS) \
		$(B)/libvhsm.a $(PKG_LIBS) $(TSS_LIBS) -ldl

# Prepares a SoftHSM2 token for the BYOK tests (PINs from files, never argv).
$(B)/test-p11-setup: tests/helpers/p11-setup.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) $(P11_CFLAGS) -pie $(ALL_LDFLAGS) -o $@ $< -ldl

# Checks the PKCS#11 module's life-cycle rules (C_Initialize variants, fork, threads, fds).
$(B)/test-p11-module-check: tests/helpers/p11-module-check.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) $(P11_CFLAGS) -pie $(ALL_LDFLAGS) -o $@ $< -ldl -lpthread

# Drives the KMIP codec against PyKMIP in tests/integration/test-kmip-pykmip.sh.
$(B)/test-kmip-tool: $(B)/tests/helpers/kmip-tool.o $(B)/libvhsm.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -pie $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

# Drives lib/tpm2-seal against swtpm in tests/integration/test-vtpm-seal.sh.
$(B)/test-tpm2-seal-tool: $(B)/tests/helpers/tpm2-seal-tool.o $(B)/libvhsm.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -pie $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) $(TSS_LIBS)

$(B)/fuzz-replay-%: $(B)/tests/fuzz/fuzz-%.o $(B)/tests/fuzz/fuzz-main.o $(B)/libvhsm.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -pie $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) -ldl

# ---- tests ----
export VHSM_BUILDDIR := $(abspath $(B))
export VHSM_SNP_SIM_MODULE := $(abspath $(B))/vhsm-snp-sim.so
VECTORS ?= $(abspath tests/vectors)
export VHSM_VECTORS := $(VECTORS)

check: all
	$(Q)tests/check.sh

check-unit: $(B)/test-unit
	$(Q)$(B)/test-unit

check-fuzz-corpus: $(TESTS)
	$(Q)tests/check.sh fuzz

check-integration: all
	$(Q)tests/check.sh integration

# The guests install the Debian packages of make deb (VHSM_VM_INSTALL=make: make install).
check-vm: all deb
	$(Q)tests/vm/run.sh

check-vm-initrd: all deb
	$(Q)tests/vm/run-initrd.sh

check-vm-initramfs: all deb
	$(Q)tests/vm/run-initramfs.sh

# Version N (make deb) installed, upgraded to N+1 (the same tree rebuilt with a newer version)
# in the running guest, rebooted, removed, reinstalled and purged.
.PHONY: check-vm-upgrade
check-vm-upgrade: all deb
	$(Q)tests/vm/run-upgrade.sh

# ---- fuzzing (clang + libFuzzer) ----
FUZZ_CC ?= clang-14
FUZZ_B := $(B)/fuzz
FUZZ_CFLAGS := -std=gnu11 -D_GNU_SOURCE -O1 -g -fsanitize=fuzzer-no-link,address,undefined \
	-Ilib -Iinclude $(PKG_CFLAGS) -DVHSM_SIM_MODULE_DEFAULT=\"$(PKGLIBDIR)/vhsm-snp-sim.so\" \
	-DVHSM_VERSION=\"$(VERSION)\"
FUZZ_LIB_OBJS := $(LIB_SRCS:%.c=$(FUZZ_B)/%.o)
FUZZ_RUNS ?= 20000

$(FUZZ_B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

$(FUZZ_B)/fuzz-%: $(FUZZ_B)/tests/fuzz/fuzz-%.o $(FUZZ_LIB_OBJS)
	$(Q)$(FUZZ_CC) -fsanitize=fuzzer,address,undefined -o $@ $^ $(PKG_LIBS) $(TSS_LIBS) -ldl

fuzz: $(FUZZ_TARGETS:%=$(FUZZ_B)/fuzz-%)
	$(Q)for t in $(FUZZ_TARGETS); do \
		mkdir -p $(FUZZ_B)/corpus-$$t && \
		echo "fuzz $$t: $(FUZZ_RUNS) runs" && \
		$(FUZZ_B)/fuzz-$$t -runs=$(FUZZ_RUNS) -max_len=65536 \
			$(FUZZ_B)/corpus-$$t tests/fuzz/corpus/$$t || exit 1; \
	done

# Long campaigns (docs/fuzzing.md): FUZZ_CAMPAIGN_RUNS executions per harness, minimized
# corpora written back to tests/fuzz/corpus with FUZZ_CAMPAIGN_ARGS=--update-corpus.
FUZZ_CAMPAIGN_RUNS ?= 10000000
FUZZ_CAMPAIGN_ARGS ?=
fuzz-campaign: $(FUZZ_TARGETS:%=$(FUZZ_B)/fuzz-%)
	$(Q)FUZZ_B=$(FUZZ_B) tests/fuzz/campaign.sh --runs $(FUZZ_CAMPAIGN_RUNS) $(FUZZ_CAMPAIGN_ARGS)

demo: all
	$(Q)scripts/demo.sh

# ---- benchmarks: vhsm-bench, driven by bench/run.sh ----
BENCH_SRCS := $(wildcard bench/*.c)
BENCH_OBJS := $(BENCH_SRCS:%.c=$(B)/%.o)
# The PKCS#11 peer benchmark uses p11-kit's pkcs11.h (no link: the module is dlopen'ed).
$(BENCH_OBJS): CFLAGS += $(shell $(PKG_CONFIG) --cflags p11-kit-1 2>/dev/null)
# The single UNWRAP's floor (bench/bench-unwrap-floor.c) runs vhsmd's own shield, ACL, audit
# record and audit MAC code.
BENCH_DAEMON_OBJS := $(addprefix $(B)/daemon/,shield.o acl.o audit-record.o audit-key.o \
	peer-unit.o)
$(B)/vhsm-bench: $(BENCH_OBJS) $(BENCH_DAEMON_OBJS) $(B)/libvhsm.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -pie $(ALL_LDFLAGS) -o $@ $(BENCH_OBJS) $(BENCH_DAEMON_OBJS) $(B)/libvhsm.a \
		$(PKG_LIBS) -ldl -lpthread -lm

# The PKCS#11 rows (bench/pkcs11/run.sh, called by bench/run.sh): one op against any module.
# It links the harness (paired samples) and OpenSSL (the floor row).
$(B)/p11-bench: bench/pkcs11/p11-bench.c $(B)/bench/harness.o
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) $(P11_CFLAGS) -pie $(ALL_LDFLAGS) -o $@ $< $(B)/bench/harness.o \
		$(PKG_LIBS) -ldl -lm

# The fleet rows (bench/fleet/run.sh, called by bench/run.sh): the daemon's KMIP pull.
$(B)/fleet-bench: $(B)/bench/fleet/fleet-bench.o $(B)/daemon/fleet-sync.o $(B)/libvhsm.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -pie $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)
bench: all $(B)/vhsm-bench $(B)/p11-bench $(B)/fleet-bench
	$(Q)bench/run.sh

# ---- install ----
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
MODULESLOADDIR ?= $(PREFIX)/lib/modules-load.d

install: programs
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man1 \
		$(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(DOCDIR) $(DESTDIR)$(SYSTEMDUNITDIR) \
		$(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR) $(DESTDIR)$(UDEVDIR)/rules.d \
		$(DESTDIR)$(SYSCONFDIR)/vhsm $(DESTDIR)$(SYSCONFDIR)/request-key.d \
		$(DESTDIR)$(MODULESLOADDIR)
	install -m 0755 $(B)/vhsmctl $(DESTDIR)$(BINDIR)/vhsmctl
	install -m 0755 $(B)/vhsm-byok $(DESTDIR)$(BINDIR)/vhsm-byok
	install -m 0755 $(B)/vhsm-fleet $(DESTDIR)$(BINDIR)/vhsm-fleet
	install -m 0755 $(B)/vhsm-request-key $(DESTDIR)$(SBINDIR)/vhsm-request-key
	sed 's|^version=.*|version=$(VERSION)|' kmod-helpers/vhsm-kmod-check \
		>$(DESTDIR)$(SBINDIR)/vhsm-kmod-check
	chmod 0755 $(DESTDIR)$(SBINDIR)/vhsm-kmod-check
	sed 's|/usr/sbin/vhsm-request-key|$(SBINDIR)/vhsm-request-key|' kmod-helpers/vhsm.conf \
		>$(DESTDIR)$(SYSCONFDIR)/request-key.d/vhsm.conf
	chmod 0644 $(DESTDIR)$(SYSCONFDIR)/request-key.d/vhsm.conf
	install -m 0644 kmod-helpers/modules-load.conf $(DESTDIR)$(MODULESLOADDIR)/vhsm.conf
	install -m 0755 $(B)/vhsmd $(DESTDIR)$(SBINDIR)/vhsmd
	install -d $(DESTDIR)$(TOKENDIR)
	install -m 0644 $(B)/token/libcryptsetup-token-vhsm.so $(DESTDIR)$(TOKENDIR)/
	install -d $(DESTDIR)$(P11MODULEDIR) $(DESTDIR)$(P11CONFDIR)
	install -m 0644 $(B)/libvhsm-pkcs11.so $(DESTDIR)$(P11MODULEDIR)/
	sed 's|@MODULE@|$(P11MODULEDIR)/libvhsm-pkcs11.so|' pkcs11/vhsm.module.in \
		>$(DESTDIR)$(P11CONFDIR)/vhsm.module
	chmod 0644 $(DESTDIR)$(P11CONFDIR)/vhsm.module
	install -m 0644 systemd/vhsmd.socket systemd/vhsmd-luks-key.socket \
		$(DESTDIR)$(SYSTEMDUNITDIR)/
	sed 's|^ExecStart=/usr/sbin/vhsmd|ExecStart=$(SBINDIR)/vhsmd|' systemd/vhsmd.service \
		>$(DESTDIR)$(SYSTEMDUNITDIR)/vhsmd.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/vhsmd.service
	install -m 0644 systemd/vhsmd-fleet-shred.path $(DESTDIR)$(SYSTEMDUNITDIR)/
	sed 's|^ExecStart=/usr/bin/vhsmctl|ExecStart=$(BINDIR)/vhsmctl|' systemd/vhsmd-fleet-shred.service \
		>$(DESTDIR)$(SYSTEMDUNITDIR)/vhsmd-fleet-shred.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/vhsmd-fleet-shred.service
	install -d $(DESTDIR)$(BASHCOMPDIR)
	install -m 0644 shell-completion/bash/vhsmctl $(DESTDIR)$(BASHCOMPDIR)/vhsmctl
	install -m 0644 systemd/vhsm.sysusers $(DESTDIR)$(SYSUSERSDIR)/vhsm.conf
	install -m 0644 systemd/vhsm.tmpfiles $(DESTDIR)$(TMPFILESDIR)/vhsm.conf
	install -m 0644 udev/60-vhsm-sev-guest.rules $(DESTDIR)$(UDEVDIR)/rules.d/
	install -m 0644 docs/man/vhsmctl.1 docs/man/vhsm-byok.1 docs/man/vhsm-fleet.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 docs/man/vhsmd.8 docs/man/vhsm-request-key.8 docs/man/vhsm-kmod-check.8 \
		docs/man/vhsm-pkcs11.8 \
		$(DESTDIR)$(MANDIR)/man8/
	install -m 0644 README.md docs/*.md $(DESTDIR)$(DOCDIR)/
	install -d $(DESTDIR)$(DRACUTMODDIR)/91vhsm
	install -m 0755 dracut/91vhsm/module-setup.sh $(DESTDIR)$(DRACUTMODDIR)/91vhsm/
	install -m 0644 dracut/91vhsm/*.conf $(DESTDIR)$(DRACUTMODDIR)/91vhsm/
	install -d $(DESTDIR)$(INITRAMFSDIR)/hooks $(DESTDIR)$(INITRAMFSDIR)/scripts/local-top \
		$(DESTDIR)$(INITRAMFSDIR)/scripts/init-bottom $(DESTDIR)$(KEYSCRIPTDIR)
	sed -e 's|^VHSMD_BIN=.*|VHSMD_BIN=$(SBINDIR)/vhsmd|' -e 's|^VHSMCTL_BIN=.*|VHSMCTL_BIN=$(BINDIR)/vhsmctl|' \
		initramfs-tools/hooks/vhsm >$(DESTDIR)$(INITRAMFSDIR)/hooks/vhsm
	chmod 0755 $(DESTDIR)$(INITRAMFSDIR)/hooks/vhsm
	install -m 0755 initramfs-tools/scripts/local-top/vhsm \
		$(DESTDIR)$(INITRAMFSDIR)/scripts/local-top/vhsm
	install -m 0755 initramfs-tools/scripts/init-bottom/vhsm \
		$(DESTDIR)$(INITRAMFSDIR)/scripts/init-bottom/vhsm
	install -m 0755 initramfs-tools/decrypt_vhsm $(DESTDIR)$(KEYSCRIPTDIR)/decrypt_vhsm
ifeq ($(WITH_SIM),1)
	$(MAKE) install-sim
endif

install-sim: programs
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(PKGLIBDIR)
	install -d $(DESTDIR)$(MANDIR)/man1
	install -m 0755 $(B)/vhsm-snp-sim $(DESTDIR)$(BINDIR)/vhsm-snp-sim
	install -m 0644 docs/man/vhsm-snp-sim.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 $(B)/vhsm-snp-sim.so $(DESTDIR)$(PKGLIBDIR)/vhsm-snp-sim.so

# Debian packages (debian/): dpkg-buildpackage writes them beside the source tree; they are
# moved to DEB_OUT. The package build uses its own build directory (debian/build).
DEB_OUT ?= $(B)/deb
deb:
	$(Q)command -v dpkg-buildpackage >/dev/null || \
		{ echo "make deb: dpkg-buildpackage missing (scripts/install-deps.sh)" >&2; exit 1; }
	dpkg-buildpackage -b -us -uc -j2
	$(Q)v=$$(dpkg-parsechangelog -S Version) && mkdir -p $(DEB_OUT) && \
		for p in $$(dh_listpackages); do mv ../$${p}_$${v}_*.deb $(DEB_OUT)/ || exit 1; \
			for d in ../$${p}-dbgsym_$${v}_*.deb; do [ ! -e $$d ] || mv $$d $(DEB_OUT)/; done; \
		done && \
		mv ../vhsm_$${v}_*.changes ../vhsm_$${v}_*.buildinfo $(DEB_OUT)/ && \
		echo "make deb: packages in $(DEB_OUT)"

lint: man-lint analyze
man-lint:
	$(Q)for m in docs/man/*.[0-9]; do mandoc -T lint -W warning $$m || exit 1; done

# gcc's static analyzer over lib/ and daemon/ (CI). Every finding is an error; a false positive
# is fixed at the code (an initialiser) or suppressed there with a comment giving the reason.
# -ftrivial-auto-var-init is left out: gcc 12's analyzer takes the variables it initialises as
# uninitialised (fixed in gcc 13), which buries real findings under false ones.
ANALYZE_SRCS := $(LIB_SRCS) $(DAEMON_SRCS)
ANALYZE_STAMPS := $(ANALYZE_SRCS:%.c=$(B)/analyze/%.ok)
analyze: $(ANALYZE_STAMPS)
$(B)/analyze/%.ok: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  ANALYZE $<")
	$(Q)$(CC) $(filter-out -fsanitize=% -ftrivial-auto-var-init=%,$(ALL_CFLAGS)) -fanalyzer \
		-Werror -c -o /dev/null $<
	@touch $@

clean:
	rm -rf build build-asan $(B) debian/build

-include $(shell find $(B) -name '*.d' 2>/dev/null)
