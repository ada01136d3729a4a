#!/bin/bash
# Test fixture, not Gentoo's bootstrap-prefix.sh: records the environment the bootstrap script
# starts in (which compiler, from which Debian package, which OS, whether a host-only tool is
# visible) and exits 0 without bootstrapping anything.
{
  echo "args=$*"
  echo "uid=$(id -u) user=$(id -un)"
  echo "gcc=$(command -v gcc)"
  echo "gcc_version=$(gcc --version | head -n 1)"
  echo "gcc_package=$(dpkg -S "$(readlink -f "$(command -v gcc)")" 2>&1 | head -n 1)"
  echo "os=$(. /etc/os-release && echo "$PRETTY_NAME")"
  echo "host_only=$(command -v compat-host-only-tool || echo absent)"
  echo "compiled=$(printf 'int main(void){return 42;}' | gcc -x c -o "$1/a.out" - && "$1/a.out"; echo $?)"
  [ -w "$1" ] && echo "prefix writable"
} >> "$1/build-env.txt"
