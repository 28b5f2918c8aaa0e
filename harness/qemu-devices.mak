# The devices of the QEMU that runs inside the test VM (harness/qemu-build.sh,
# configured --without-default-devices): the pc (i440fx) machine and what it
# selects, nothing it only implies (no VGA, NICs, USB, TPM, IPMI...).  Its TCG
# build also runs the test VM itself (make test-debug's L2 boots), which needs
# the same: serial port, RTC, PIT, HPET, ACPI.
CONFIG_I440FX=y
