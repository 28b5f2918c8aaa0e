# The devices of the QEMU that runs inside the test VM (harness/qemu-build.sh,
# configured --without-default-devices): the pc (i440fx) machine and what it
# selects, nothing it only implies (no VGA, NICs, USB, TPM, IPMI...).
CONFIG_I440FX=y
