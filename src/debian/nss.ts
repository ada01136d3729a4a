/**
 * NSS modules a site's /etc/nsswitch.conf may name (relocation.md §6.1). The layer uses the host's
 * nsswitch.conf, and with the patched ld.so a module missing from the prefix is never taken from
 * the host, so the lookup of a user from sssd, LDAP or systemd would silently fail. The modules are
 * shipped in the prefix: their packages' shared objects are extracted (not installed: the packages
 * depend on daemons such as systemd or nslcd, which stay the host's; the modules talk to them over
 * sockets) from inside mmdebstrap, where apt's package lists are still present.
 *
 *   nssCustomizeHook(DEFAULT_NSS_PACKAGES)   → a shell command for `mmdebstrap --customize-hook`
 *
 * The modules of glibc itself (files, dns, compat, hesiod) are in libc6 and need nothing.
 */

/** nsswitch.conf service → the Debian package that provides `libnss_<service>.so.2`. */
export const NSS_MODULE_PACKAGES: Record<string, string> = {
  systemd: "libnss-systemd",
  sss: "libnss-sss",
  ldap: "libnss-ldapd",
  myhostname: "libnss-myhostname",
  resolve: "libnss-resolve",
};

/** Shipped by default. (libnss-winbind is left out: it needs samba's libwbclient in the prefix.) */
export const DEFAULT_NSS_PACKAGES = Object.values(NSS_MODULE_PACKAGES);

/**
 * A `--customize-hook` that downloads the packages with the chroot's apt configuration and extracts
 * only their `libnss_*.so*` files into the tree ($1). Fails (and with it mmdebstrap) when a package
 * cannot be downloaded.
 */
export function nssCustomizeHook(packages: readonly string[]): string {
  for (const p of packages)
    if (!/^[a-z0-9][a-z0-9+.-]+$/.test(p)) throw new Error(`not a Debian package name: ${p}`);
  return [
    "set -e",
    "d=$(mktemp -d)",
    "trap 'rm -rf \"$d\"' EXIT",
    'cd "$d"',
    `APT_CONFIG="$MMDEBSTRAP_APT_CONFIG" apt-get -q -o APT::Sandbox::User=root download ${packages.join(" ")}`,
    'for deb in ./*.deb; do dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$1" --keep-directory-symlink --wildcards "*/libnss_*.so*" --exclude "*/share/*"; echo "I: NSS modules from $deb"; done',
  ].join("\n");
}
