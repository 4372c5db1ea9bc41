#!/usr/bin/env bash
# setup.sh GROUP... - install the Debian packages a build step needs, if missing.
#   host: cross compiler for the core's riscv64 build, lld, cmocka (host tests)
#   qemu: QEMU and OpenSBI for the demonstration kernel
#   extra: gdb-multiarch, doxygen and gnuplot for `make gdb`, `make docs`, `make plots`
# It says what it installs, runs apt-get update first, and uses sudo only when not root.
set -euo pipefail

pkgs=()
for group in "$@"; do
	case "$group" in
	host)  pkgs+=(gcc-riscv64-unknown-elf lld libcmocka-dev libclang-rt-14-dev) ;;
	qemu)  pkgs+=(qemu-system-misc opensbi) ;;
	extra) pkgs+=(gdb-multiarch doxygen gnuplot-nox) ;;
	*) echo "setup.sh: unknown group '$group'" >&2; exit 2 ;;
	esac
done

missing=()
for p in "${pkgs[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "setup: installing from Debian's packages: ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done"
