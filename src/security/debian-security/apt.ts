/**
 * apt, run on compat's own state (never the host's): `apt-get update` of the layer's security
 * suite into a private lists directory under the cache, and `apt-get download` of one binary
 * package from it, for the changelog inside. The sources, lists, caches and status file are all
 * under `<cache>/debian-security/<key>/`; the host's apt configuration (proxies) still applies.
 * apt verifies the suite's InRelease signature with Debian's archive keyring.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { run } from "../../exec/run.js";

export const DEBIAN_ARCHIVE_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg";
export const DEFAULT_SECURITY_MIRROR = "http://deb.debian.org/debian-security";

export interface SecuritySuiteSource {
  uri: string;
  suite: string;
  components: string[];
  debArch: string;
}

export interface PrivateApt {
  root: string;
  lists: string;
  options: string[];
}

/** compat's apt state for one suite and architecture: `<cacheRoot>/<key>/` with its own sources.list. */
export function privateApt(cacheRoot: string, s: SecuritySuiteSource): PrivateApt {
  const key = createHash("sha256")
    .update(JSON.stringify([s.uri, s.suite, s.components, s.debArch]))
    .digest("hex")
    .slice(0, 16);
  const root = join(cacheRoot, key);
  const lists = join(root, "lists");
  mkdirSync(join(lists, "partial"), { recursive: true });
  mkdirSync(join(root, "archives", "partial"), { recursive: true });
  const status = join(root, "status");
  if (!existsSync(status)) writeFileSync(status, "");
  const signedBy = existsSync(DEBIAN_ARCHIVE_KEYRING) ? ` signed-by=${DEBIAN_ARCHIVE_KEYRING}` : "";
  writeFileSync(
    join(root, "sources.list"),
    `deb [arch=${s.debArch}${signedBy}] ${s.uri} ${s.suite} ${s.components.join(" ")}\n`,
  );
  const options = [
    `Dir::State::Lists=${lists}`,
    `Dir::State::status=${status}`,
    `Dir::Etc::SourceList=${join(root, "sources.list")}`,
    "Dir::Etc::SourceParts=/dev/null",
    `Dir::Cache=${root}`,
    `Dir::Cache::Archives=${join(root, "archives")}`,
    "Dir::Cache::pkgcache=",
    "Dir::Cache::srcpkgcache=",
    `APT::Architecture=${s.debArch}`,
    `APT::Architectures=${s.debArch}`,
    "Acquire::Languages=none",
    "APT::Get::List-Cleanup=true",
    // the private directories belong to whoever runs compat; apt's _apt user may not reach them
    ...(process.getuid?.() === 0 ? ["APT::Sandbox::User=root"] : []),
    "Debug::NoLocking=true",
  ].flatMap((o) => ["-o", o]);
  return { root, lists, options };
}

/** `apt-get update` of the suite into the private lists directory. */
export async function updateIndex(apt: PrivateApt, timeoutMs = 120_000): Promise<void> {
  await run("apt-get", ["-q", ...apt.options, "update"], { timeoutMs });
}

/** `apt-get download NAME=VERSION` into `dir`; returns the .deb's path. */
export async function downloadDeb(
  apt: PrivateApt,
  name: string,
  version: string,
  dir: string,
): Promise<void> {
  await run("apt-get", ["-q", ...apt.options, "download", `${name}=${version}`], {
    cwd: dir,
    timeoutMs: 300_000,
  });
}
