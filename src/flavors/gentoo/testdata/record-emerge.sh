#!/bin/bash
# Test fixture, not Portage's emerge (which needs a bootstrapped Gentoo Prefix): placed at
# $EPREFIX/usr/bin/emerge, it records each call's arguments and user and exits 0, so the stages
# around emerge (overlays, sets) can run for real.
echo "emerge $* (uid=$(id -u))" >> "$EPREFIX/emerge-calls.txt"
