#!/usr/bin/env bash
# Install every build and test dependency of rehost from Debian's archive.
# Idempotent: when every package is already installed it does nothing, so
# `make check` and `make demo` can call it on every run. Otherwise it runs
# `apt-get update` once and installs what is missing by package name.
set -euo pipefail

# Build: compiler toolchain, build system, libraries (see docs/architecture.md).
build_pkgs=(
	build-essential cmake ninja-build pkg-config
	libssl-dev libcurl4-openssl-dev libmicrohttpd-dev libjansson-dev
	libsqlite3-dev libpq-dev libzstd-dev zlib1g-dev
	libext2fs-dev libblkid-dev libfdisk-dev libcmocka-dev liblzma-dev libxxhash-dev
)
# Tests: real filesystems, partitioning and peer tools used as references.
test_pkgs=(
	e2fsprogs xfsprogs btrfs-progs dosfstools mtools lvm2 mdadm
	fdisk gdisk util-linux kmod cpio zstd xz-utils gzip
	qemu-utils rsync partclone openssl curl postgresql time
	python3-jsonschema
)
# End-to-end boot tests: a Debian guest built with debootstrap, booted in QEMU
# (SeaBIOS and OVMF firmware), GRUB tools for the source disk's boot loader.
# linux-image-amd64 puts a kernel in /boot for the KVM probe (src/lib/accel/):
# without one, a host whose KVM works still gets TCG.
e2e_pkgs=(
	debootstrap qemu-system-x86 seabios ovmf grub-pc-bin grub-efi-amd64-bin
	linux-image-amd64
)

missing=()
for p in "${build_pkgs[@]}" "${test_pkgs[@]}" "${e2e_pkgs[@]}"; do
	# dpkg-query prints "install ok installed" only for a fully installed package.
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
		missing+=("$p")
	fi
done

if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages: ${missing[*]}" >&2
	echo "install-deps: run as root (or: sudo $0) to install them" >&2
	exit 1
fi

echo "install-deps: installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
