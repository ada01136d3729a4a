/**
 * The environment a relocated Debian layer needs at run time (relocation.md §6.2–6.4): the data
 * paths compiled into glibc, OpenSSL, ncurses, libmagic and perl point at the host, so the layer's
 * copies are named by variables. Only variables whose target exists in the tree are set.
 *
 *   debianLayerEnvironment({ treeDir, prefix, triplet, perl })
 *   → [{ name: "LOCPATH", value: "<P>/usr/lib/locale", why: "…" }, …]
 *
 * startprefix.ts puts them into `$EPREFIX/startprefix` and `$EPREFIX/etc/compat/env.sh`.
 */
import { existsSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { TreeResolver } from "../layer/relocate.js";
import type { EnvVar } from "../layer/startprefix.js";
import type { PerlEnvironment } from "./perl.js";

export async function debianLayerEnvironment(opts: {
  treeDir: string;
  prefix: string;
  triplet: string;
  perl?: Pick<PerlEnvironment, "PERL5LIB" | "PERL5OPT">;
}): Promise<EnvVar[]> {
  const { treeDir, prefix, triplet } = opts;
  // Links in the tree already point into the prefix: resolve them with the tree as the prefix.
  const resolver = new TreeResolver(treeDir, prefix);
  const present = new Set<string>();
  const candidates = [
    "usr/lib/locale",
    `usr/lib/${triplet}/gconv`,
    "usr/share/i18n",
    "etc/terminfo",
    "lib/terminfo",
    "usr/share/terminfo",
    "usr/lib/file/magic.mgc",
    "usr/lib/ssl/openssl.cnf",
    `usr/lib/${triplet}/ossl-modules`,
    "etc/ssl/certs/ca-certificates.crt",
    "etc/ssl/certs",
    "usr/share/zoneinfo",
  ];
  for (const rel of candidates) if (await resolver.resolve(`/${rel}`)) present.add(rel);
  const has = (rel: string) => present.has(rel) || rel.includes("/engines-");
  const at = (rel: string) => `${prefix}/${rel}`;
  const env: EnvVar[] = [];
  const add = (name: string, rels: string[], why: string) => {
    const present = rels.filter(has);
    if (present.length) env.push({ name, value: present.map(at).join(":"), why });
  };
  add("LOCPATH", ["usr/lib/locale"], "locales in directory form (libc's own path is disabled)");
  add("GCONV_PATH", [`usr/lib/${triplet}/gconv`], "iconv modules (libc's own path is disabled)");
  add("I18NPATH", ["usr/share/i18n"], "locale sources for the layer's localedef");
  if (opts.perl) {
    env.push({ name: "PERL5LIB", value: opts.perl.PERL5LIB, why: "perl's @INC, inside the layer" });
    env.push({ name: "PERL5OPT", value: opts.perl.PERL5OPT, why: "drop @INC entries outside the layer" });
  }
  add("TERMINFO_DIRS", ["etc/terminfo", "lib/terminfo", "usr/share/terminfo"], "terminal descriptions");
  add("MAGIC", ["usr/lib/file/magic.mgc"], "file(1)'s magic database");
  add("OPENSSL_CONF", ["usr/lib/ssl/openssl.cnf"], "OpenSSL configuration");
  add("OPENSSL_MODULES", [`usr/lib/${triplet}/ossl-modules`], "OpenSSL providers");
  const libdir = join(treeDir, "usr/lib", triplet);
  const engines = existsSync(libdir)
    ? (await readdir(libdir)).filter((n) => /^engines-\d+$/.test(n)).sort()
    : [];
  add(
    "OPENSSL_ENGINES",
    engines.slice(-1).map((n) => `usr/lib/${triplet}/${n}`),
    "OpenSSL engines",
  );
  add("SSL_CERT_FILE", ["etc/ssl/certs/ca-certificates.crt"], "CA bundle (OpenSSL, Python ssl)");
  add("SSL_CERT_DIR", ["etc/ssl/certs"], "CA directory");
  add("TZDIR", ["usr/share/zoneinfo"], "time zone data for TZ=Area/City");
  return env;
}
