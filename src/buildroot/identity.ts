/**
 * What names a build root, computed the same way when it is made and each time it is reused:
 *
 *   buildRootIdentity({ arch, suite, packages })   // sha256 hex of the canonical package list
 *   requestKey({ arch, spec, sources })             // sha256 hex of what was asked for
 *
 * The identity is of what the root holds (its dpkg status: every installed package's name,
 * version and Debian arch), so two roots with the same identity are the same environment whatever
 * asked for them. The request key is of what was asked (suite, arch, apt sources, packages): it
 * finds the identity before anything is built.
 */
import { createHash } from "node:crypto";
import type { InstalledPackage } from "../debian/status.js";
import type { Arch } from "../layer/id.js";
import type { BuildRootPackage, BuildRootSpec } from "./types.js";

/** Changes when what goes into a build root changes (the variant, the dpkg options): another root. */
export const BUILD_ROOT_FORMAT = 1;

export const IDENTITY_RE = /^[0-9a-f]{64}$/;

const byNameThenArch = (a: BuildRootPackage, b: BuildRootPackage) =>
  a.name < b.name ? -1 : a.name > b.name ? 1 : a.arch < b.arch ? -1 : a.arch > b.arch ? 1 : 0;

export function buildRootPackages(installed: readonly InstalledPackage[]): BuildRootPackage[] {
  return installed
    .map((p) => ({ name: p.name, version: p.version, arch: p.architecture }))
    .sort(byNameThenArch);
}

/** `suite <s>\narch <a>\n` then `name:arch version` lines, sorted: the text the identity hashes. */
export function canonicalPackageList(o: {
  arch: Arch;
  suite: string;
  packages: readonly BuildRootPackage[];
}): string {
  const lines = [...o.packages].sort(byNameThenArch).map((p) => `${p.name}:${p.arch} ${p.version}\n`);
  return `suite ${o.suite}\narch ${o.arch}\n${lines.join("")}`;
}

export function buildRootIdentity(o: {
  arch: Arch;
  suite: string;
  packages: readonly BuildRootPackage[];
}): string {
  return createHash("sha256").update(canonicalPackageList(o)).digest("hex");
}

/** The packages asked for, sorted and without duplicates. */
export function normalisedPackages(names: readonly string[]): string[] {
  return [...new Set(names)].sort();
}

/**
 * What was asked: the arch, the suite, the apt sources mmdebstrap gets (the mirror, or the host's
 * sources as deb822 text, so another host mirror is another request) and the sorted packages.
 */
export function requestKey(o: { arch: Arch; spec: BuildRootSpec; sources: string }): string {
  const text = JSON.stringify({
    format: BUILD_ROOT_FORMAT,
    arch: o.arch,
    suite: o.spec.suite,
    sources: o.sources,
    packages: normalisedPackages(o.spec.packages),
  });
  return createHash("sha256").update(text).digest("hex");
}
