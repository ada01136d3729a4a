#!/bin/bash
# Test fixture, not Gentoo's bootstrap-prefix.sh: records how the gentoo flavor invokes the
# bootstrap script (arguments, environment, user, where the prefix is) and exits 0 without
# bootstrapping anything, so the stage must then report the missing startprefix.
{
  echo "args=$*"
  echo "stop=${STOP_BOOTSTRAP_AFTER:-}"
  echo "uid=$(id -u) user=$(id -un)"
  echo "eprefix_env=${EPREFIX:-}"
  echo "ld_library_path=${LD_LIBRARY_PATH:-unset}"
  [ -w "$1" ] && echo "prefix writable"
} >> "$1/invocations.txt"
