# Sourced by scripts that cross-compile Helios for aarch64-unknown-linux-gnu (FR-026): Debian's
# gcc-aarch64-linux-gnu links and compiles C, qemu-user-static runs the results (tests, smoke runs).
# librdkafka's ./configure reads plain CC/CXX/AR, so those point at the cross compiler; the host's own
# compiler is pinned per target so that build scripts compiling for the host keep using it.
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64-static -L /usr/aarch64-linux-gnu"
export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc CXX_aarch64_unknown_linux_gnu=aarch64-linux-gnu-g++ AR_aarch64_unknown_linux_gnu=aarch64-linux-gnu-ar
export CC_x86_64_unknown_linux_gnu=gcc CXX_x86_64_unknown_linux_gnu=g++ AR_x86_64_unknown_linux_gnu=ar
export CC=aarch64-linux-gnu-gcc CXX=aarch64-linux-gnu-g++ AR=aarch64-linux-gnu-ar
