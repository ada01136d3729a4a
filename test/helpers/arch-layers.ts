/**
 * Layers of several arches for `compat diff --arches` tests, without building any: prefix trees at
 * `<root>/versions/<version>/compat/linux/<arch>` whose package databases say what they hold — a
 * dpkg status file with Debian's name of the arch (amd64, arm64, riscv64), or a Gentoo vardb made
 * from EESSI's real set file of that arch — and a build record; packed into artifacts by the real
 * packer when a test asks.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DEBIAN_ARCH } from "../../src/debian/mmdebstrap.js";
import type { Arch } from "../../src/layer/id.js";
import { projectRoot } from "./cli.js";

export const EESSI_SETS = join(projectRoot, "../shared/data/eessi/gentoo-overlay-sets");

export function prefixOf(root: string, version: string, arch: Arch): string {
  return join(root, "versions", version, "compat/linux", arch);
}

function put(path: string, text: string): void {
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, text);
}

function buildRecord(prefix: string, fields: Record<string, string>): void {
  put(
    join(prefix, "reprod/20250611_093012UTC/build.json"),
    `${JSON.stringify({ runId: "test", os: "linux", end: "2025-06-11T09:30:12Z", ...fields }, null, 2)}\n`,
  );
}

/**
 * A debian-flavor layer of `arch`: `packages` are `[name, version]` of the layer's own Debian
 * architecture, or `[name, version, debArch]` (`all`, or a foreign one).
 */
export function makeDebianArchLayer(
  root: string,
  arch: Arch,
  packages: Array<[string, string] | [string, string, string]>,
  opts: { version?: string; stack?: string; debArch?: string } = {},
): string {
  const version = opts.version ?? "2025.06";
  const prefix = prefixOf(root, version, arch);
  const status = packages
    .map(
      ([name, v, a]) =>
        `Package: ${name}\nStatus: install ok installed\nPriority: optional\nArchitecture: ${a ?? opts.debArch ?? DEBIAN_ARCH[arch]}\nVersion: ${v}\nDescription: ${name}\n`,
    )
    .join("\n");
  put(join(prefix, "var/lib/dpkg/status"), status);
  put(join(prefix, "etc/os-release"), "ID=debian\n");
  buildRecord(prefix, { stack: opts.stack ?? "dev", version, arch, flavor: "debian" });
  return prefix;
}

/** A vardb entry per atom of EESSI's set `eessi-<version>-linux-<arch>`: a pinned atom's version, else `versionOf(cp)`. */
export function makeGentooArchLayer(
  root: string,
  version: string,
  arch: Arch,
  versionOf: (cp: string) => string = () => "1.0",
): string {
  const prefix = prefixOf(root, version, arch);
  mkdirSync(join(prefix, "etc/portage"), { recursive: true });
  const set = readFileSync(join(EESSI_SETS, `eessi-${version}-linux-${arch}`), "utf8");
  for (const line of set.split("\n").map((l) => l.trim())) {
    if (!line) continue;
    const pinned = /^=(.+?)-([0-9][^:]*)(?:::(.+))?$/.exec(line);
    const cp = pinned ? pinned[1]! : line;
    const pv = pinned ? pinned[2]! : versionOf(cp);
    const [category, name] = cp.split("/") as [string, string];
    const dir = join(prefix, "var/db/pkg", category, `${name}-${pv}`);
    put(join(dir, "SLOT"), "0\n");
    put(join(dir, "repository"), `${pinned?.[3] ?? "gentoo"}\n`);
  }
  buildRecord(prefix, { stack: "eessi", version, arch, flavor: "gentoo" });
  return prefix;
}

/** The layer packed by compat's own packer into `outDir`; returns the artifact's path. */
export async function packArchLayer(
  prefix: string,
  outDir: string,
  id: { stack: string; version: string; arch: Arch },
): Promise<string> {
  const { packLayer } = await import("../../src/artifacts/pack.js");
  return (await packLayer({ ...id, os: "linux", prefix, outDir, epoch: 1_750_000_000 })).artifact;
}
