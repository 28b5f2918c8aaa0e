# SPDX-License-Identifier: GPL-2.0
#
# Assemble, build and test the patched Linux 6.12 kernel in QEMU.
# See README.md.  Everything generated lives under build/.

SHELL := /bin/bash
TOP := $(CURDIR)
H := $(TOP)/harness
B := $(TOP)/build
BASE_VERSION := $(shell sed -n 's/^VERSION=//p' BASE)

# make test T=name      run only the test(s) whose name matches (shell glob)
# make test EXTRA=/dir  also run every executable in /dir inside the guest
# make test FULL=1      also the long tests ("#@ long" in harness/tests.list;
#                       make test-debug: also the "#@ debug off" ones)
T ?=
EXTRA ?=
FULL ?=
# Limit of one QEMU run: by default the sum of the listed tests' timeouts
# plus five minutes for boot, so that a hung guest fails in bounded time.
QEMU_TIMEOUT ?= auto
# QEMU's -accel for the test lists and the stress test: one TCG thread runs
# both vCPUs (multi-threaded TCG loses nested guests now and then, see
# docs/reliability.md).  ACCEL=tcg runs one thread per vCPU.
ACCEL ?= tcg,thread=single

# make stress-repeat RUNS=n VARIANT=patched|debug: the stress test n times in
# one boot, with seeds FIRST..n (ACCEL=tcg for one TCG thread per vCPU).
RUNS ?= 10
FIRST ?= 1
VARIANT ?= patched
ifeq ($(filter patched debug,$(VARIANT)),)
$(error VARIANT must be patched or debug, not '$(VARIANT)')
endif

# make check-series STEPS=3-5   check only these steps of the series
STEPS ?=

# make bench ROUNDS=n: n rounds of the benchmark's rows (-r) and the first n
# of the L2 boots' rounds (harness/bench.list has three).
ROUNDS ?=

.PHONY: all deps tree patches series check-series check-base check-harness kernel kernel-debug kernel-pristine qemu \
	test test-debug test-base run \
	bench stress stress-debug stress-repeat l2-repeat checkpatch timings clean distclean help qemu-patches qemu-series

all: kernel

help:
	@echo "make run          boot the patched kernel and run the demo VM"
	@echo "make bench        the benchmark against guest_memfd (build/bench/)"
	@echo "make stress       the private memory stress test (harness/stress.list)"
	@echo "make stress-debug the same on the debug kernel"
	@echo "make stress-repeat RUNS=n VARIANT=patched|debug  the stress test, seeds FIRST(1)..n"
	@echo "make l2-repeat RUNS=n VARIANT=patched|debug  n private-1G L2 boots in one test VM"
	@echo "make test         build everything and run the test list in QEMU"
	@echo "make test-debug   the same on the debug kernel (lockdep, KFENCE, kmemleak...)"
	@echo "make test-base    the same list on the unpatched base kernel and on the patched"
	@echo "                  one: every upstream test whose result differs"
	@echo "make tree         build/linux: the base + patches/linux/series as commits (branch work)"
	@echo "make patches      write build/linux's commits back to patches/linux/"
	@echo "make series       the series for posting, with cover letter, in build/series/"
	@echo "make check-series every step of the series builds and is checkpatch clean (STEPS=a-b)"
	@echo "make check-base   both series against Debian's newest kernel and QEMU (downloads)"
	@echo "make check-harness tests of the harness itself (pinned sources, bad input)"
	@echo "make checkpatch   scripts/checkpatch.pl --strict on every patch of the series"
	@echo "make timings      docs/timings.md from the logs of the last .ci/run and make bench"
	@echo "make qemu         build the project's QEMU (patches/qemu/): the test VM's emulator and its VMM"
	@echo "make qemu-patches export build/qemu/src's commits to patches/qemu/"
	@echo "make qemu-series  QEMU's series for posting in build/qemu/series/"

deps:
	@$(H)/deps.sh

tree: deps
	@echo "  BASE    Linux $(BASE_VERSION) (Debian $$(sed -n 's/^PACKAGE_VERSION=//p' BASE))"
	@$(H)/tree.sh tree

patches:
	@$(H)/tree.sh patches

series: tree
	@$(H)/tree.sh series

check-series: tree
	@$(H)/check-series.sh $(STEPS)

# The first step when Debian moves on: each patch of both series against the
# newest kernel and QEMU the archive has, and that kernel built
# (build/check-base/; docs/series.md).  Downloads, so not in CI.
check-base: deps
	@$(H)/check-base.sh

# The harness's own tests, hermetic (a fake archive): first in .ci/run.
check-harness: deps
	@$(H)/test-harness.sh

kernel: tree
	@$(H)/kernel.sh patched

kernel-debug: tree
	@$(H)/kernel.sh debug

# The unpatched base (tag base), with test-vm.config less the project's symbols.
kernel-pristine: tree
	@$(H)/kernel.sh pristine

# The project's QEMU (harness/qemu-build.sh): Debian trixie's QEMU 10.0
# source with patches/qemu/series, built once with TCG and KVM.  It is the
# emulator of the test VM (build/qemu/qemu-system-x86_64) in every target
# below, and the VMM inside it (staged into the initramfs).
qemu: deps
	@$(H)/qemu-build.sh build

qemu-patches:
	@$(H)/qemu-build.sh patches

qemu-series: deps
	@$(H)/qemu-build.sh series

# The filtered test list of this run (harness/list.sh select): T's tests,
# the long ones ("#@ long") only with FULL=1, and the list's "#%" lines
# (what the list needs of the test VM: harness/qemu.sh).
$(B)/tests-%.list: FORCE
	@mkdir -p $(B)
	@$(H)/list.sh select $(H)/$*.list "$(T)" "$(FULL)" "" > $@

# The one boot rule: $(call boot,LIST,VARIANT,LOG[,EXTRA[,ENV]]) packs the
# initramfs of kernel VARIANT (patched, debug, pristine) with the tests of
# build/tests-LIST.list and boots the test VM on it under the project's
# QEMU (ENV: variables for harness/qemu.sh); the list's "#%" lines say
# what it needs (pools, memory).
define boot
$(H)/userspace.sh $(2) $(B)/tests-$(1).list $(4) && \
	$(5) QEMU_ACCEL=$(ACCEL) $(H)/qemu.sh $(2) $(B)/logs/$(3).log $(QEMU_TIMEOUT) $(B)/tests-$(1).list
endef

test: kernel qemu $(B)/tests-tests.list
	@$(call boot,tests,patched,test,$(EXTRA))

# The list on the debug kernel, less its "#@ debug off" tests unless FULL=1
# (harness/tests.list); its L2 guests boot the patched kernel
# (harness/userspace.sh).
test-debug: kernel-debug kernel qemu
	@mkdir -p $(B) && $(H)/list.sh select $(H)/tests.list "$(T)" "$(FULL)" 1 > $(B)/tests-tests-debug.list
	@$(call boot,tests-debug,debug,test-debug,$(EXTRA))

# The test list on the pristine base kernel and on the patched one (the same
# test programs, from the patched tree), then the report of harness/compare.sh
# (also in build/logs/base-vs-patched.txt): fails when an upstream test that
# passes on the base fails patched.  Failing tests do not stop either run.
# The whole list, long tests included.
test-base: kernel kernel-pristine qemu
	@mkdir -p $(B) && $(H)/list.sh select $(H)/tests.list "$(T)" 1 "" > $(B)/tests-tests-full.list
	@rm -f $(B)/logs/test-pristine.log.results $(B)/logs/test.log.results
	@$(call boot,tests-full,pristine,test-pristine,$(EXTRA)) || true
	@$(call boot,tests-full,patched,test,$(EXTRA)) || true
	@$(H)/compare.sh $(H)/tests.list $(B)/logs/test-pristine.log.results $(B)/logs/test.log.results \
		| tee $(B)/logs/base-vs-patched.txt; exit $${PIPESTATUS[0]}

run: kernel qemu $(B)/tests-demo.list
	@$(call boot,demo,patched,run,,VERBOSE=1)

stress: kernel qemu $(B)/tests-stress.list
	@$(call boot,stress,patched,stress,,VERBOSE=1)

stress-debug: kernel-debug kernel qemu $(B)/tests-stress.list
	@$(call boot,stress,debug,stress-debug,,VERBOSE=1)

# $(call repeat_list,LIST,LINE): the target list, LIST's "#%" lines and
# LINE once for each run FIRST..RUNS ($$i in LINE: the run's number).
define repeat_list
mkdir -p $(B) && { $(H)/list.sh needs $(H)/$(1).list; \
	for i in $$(seq $(FIRST) $(RUNS)); do echo "$(2)"; done; } > $@
endef

$(B)/tests-stress-repeat.list: FORCE
	@$(call repeat_list,stress,kvm/private_mem_stress_test-seed$$i 900 guest/seeded.sh $$i kvm/x86_64/private_mem_stress_test)

stress-repeat: $(B)/tests-stress-repeat.list qemu
	@$(MAKE) --no-print-directory $(if $(filter debug,$(VARIANT)),kernel-debug kernel,kernel)
	@$(call boot,stress-repeat,$(VARIANT),stress-repeat-$(VARIANT))

# make l2-repeat RUNS=n VARIANT=patched|debug: n private-1G L2 boots in one
# boot of the test VM (the double-fault rate of docs/reliability.md).
$(B)/tests-l2-repeat.list: FORCE
	@$(call repeat_list,tests,l2/private-1G-$$i 900 guest/l2-boot.sh private-1G)

l2-repeat: $(B)/tests-l2-repeat.list qemu
	@$(MAKE) --no-print-directory $(if $(filter debug,$(VARIANT)),kernel-debug kernel,kernel)
	@$(call boot,l2-repeat,$(VARIANT),l2-repeat-$(VARIANT))

bench: kernel qemu $(B)/tests-bench.list
	@if [ -n "$(ROUNDS)" ]; then \
		awk -v n="$(ROUNDS)" '$$1 ~ /-r[0-9]+$$/ { k = $$1; sub(/.*-r/, "", k); if (k + 0 > n) next } \
			{ sub(/ -r [0-9]+/, " -r " n) } 1' $(B)/tests-bench.list > $(B)/tests-bench.list.tmp && \
		mv $(B)/tests-bench.list.tmp $(B)/tests-bench.list; fi
	@$(call boot,bench,patched,bench,,VERBOSE=1); \
		rc=$$?; $(H)/bench.sh $(B)/logs/bench.log $(B)/bench && \
		echo "commit $$(git rev-parse --short HEAD) date $$(date -u +%Y-%m-%d) cpus $$(nproc) rc $$rc" > $(B)/bench/info && exit $$rc

checkpatch: tree
	@$(H)/checkpatch.sh

# docs/timings.md from the logs of the last .ci/run (build/ci-*) and the
# tables of the last make bench (build/bench/).
timings:
	@mkdir -p $(B) && $(H)/timings.sh > $(B)/timings.md && mv $(B)/timings.md docs/timings.md && echo "  DOCS    docs/timings.md"

clean:
	rm -rf $(B)/kernel-* $(B)/selftests $(B)/initramfs-* $(B)/bzImage-* $(B)/logs

distclean:
	rm -rf $(B)

FORCE:
