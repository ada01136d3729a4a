#!/bin/bash
# Test fixture, not Portage's emerge (which needs a bootstrapped Gentoo Prefix and Gentoo's mirrors):
# placed at $EPREFIX/usr/bin/emerge of a published layer, it records each call and its user, and for
# an update of dev-libs/openssl (or of @world) does to the layer what emerge's upgrade of
# openssl-1.1.1w to 3.0.13 does to it: a new vdb entry, the old one gone, a library replaced. So the
# update mode's overlay, the copy of its merged view and all that follows run on a real change.
echo "emerge $* (uid=$(id -u))" >>"$EPREFIX/emerge-calls.txt"
case " $* " in
*" dev-libs/openssl "* | *" @world "*)
  vdb=$EPREFIX/var/db/pkg/dev-libs
  rm -rf "$vdb/openssl-1.1.1w"
  mkdir -p "$vdb/openssl-3.0.13"
  echo 0/3 >"$vdb/openssl-3.0.13/SLOT"
  echo gentoo >"$vdb/openssl-3.0.13/repository"
  rm -f "$EPREFIX/usr/lib64/libssl.so.1.1"
  echo "libssl 3.0.13" >"$EPREFIX/usr/lib64/libssl.so.3"
  ;;
esac
