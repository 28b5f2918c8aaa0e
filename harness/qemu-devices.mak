# The devices of the project's QEMU (harness/qemu-build.sh, configured
# --without-default-devices): the pc (i440fx) machine and what it selects,
# nothing it only implies (no VGA, NICs, USB, TPM, IPMI...).  It is the VMM
# inside the test VM and, under TCG, runs the test VM itself, which needs
# the same: serial port, RTC, PIT, HPET, ACPI.
CONFIG_I440FX=y
# The confidential L2 guest's disk (guest/l2-boot.sh cc-* rows), and what
# a host user runs VMs with: virtio on PCI.
CONFIG_VIRTIO_PCI=y
CONFIG_VIRTIO_BLK=y
