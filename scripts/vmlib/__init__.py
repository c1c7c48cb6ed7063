"""scripts/vm: run faultline suites on Debian and custom kernels under qemu."""
