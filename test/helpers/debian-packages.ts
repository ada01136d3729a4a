/**
 * Real Debian packages for tests and benchmarks, fetched with apt (`apt-get download`) into a
 * cache of this repository, from the host's own apt sources (bookworm) or from another suite of
 * Debian's archive (bullseye, for older libraries), with a private apt state so the host's apt is
 * left as it is. Signed by Debian's archive keyring.
 *
 *   const deb = await debianPackage("zlib1g", "bullseye");   // …/zlib1g_1%3a1.2.11.dfsg-2+deb11u2_amd64.deb
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

const PROJECT = resolve(import.meta.dirname, "../..");
const CACHE = join(PROJECT, ".cache/debian-packages");
const MIRROR = "http://deb.debian.org/debian";
const KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg";

export type Suite = "bookworm" | "bullseye";

function aptOptions(suite: Suite): string[] {
  const dir = join(CACHE, `apt-${suite}`);
  const sources = join(dir, "sources.list");
  if (!existsSync(sources)) {
    mkdirSync(join(dir, "lists/partial"), { recursive: true });
    mkdirSync(join(dir, "cache/archives/partial"), { recursive: true });
    writeFileSync(sources, `deb [signed-by=${KEYRING}] ${MIRROR} ${suite} main\n`);
  }
  return [
    "-o",
    `Dir::Etc::SourceList=${sources}`,
    "-o",
    "Dir::Etc::SourceParts=/dev/null",
    "-o",
    `Dir::State::Lists=${join(dir, "lists")}`,
    "-o",
    `Dir::Cache=${join(dir, "cache")}`,
    "-o",
    "Dir::State::status=/dev/null",
    "-o",
    "Debug::NoLocking=1",
    "-o",
    "Acquire::Languages=none",
    "-o",
    "APT::Sandbox::User=root",
    "-q",
  ];
}

const updated = new Set<Suite>();

function update(suite: Suite): void {
  if (updated.has(suite)) return;
  const lists = join(CACHE, `apt-${suite}`, "lists");
  if (
    !existsSync(lists) ||
    readdirSync(lists).filter((f) => f.endsWith("Packages") || f.includes("Packages")).length === 0
  )
    execFileSync("apt-get", [...aptOptions(suite), "update"], { stdio: ["ignore", "ignore", "pipe"] });
  updated.add(suite);
}

/** Download packages (the suite's candidate versions) into the cache; returns the .deb paths by name. */
export function debianPackages(names: readonly string[], suite: Suite = "bookworm"): Map<string, string> {
  const dir = join(CACHE, suite);
  mkdirSync(dir, { recursive: true });
  const debOf = (name: string) =>
    readdirSync(dir).find((f) => f.startsWith(`${name}_`) && f.endsWith(".deb"));
  const missing = names.filter((n) => !debOf(n));
  if (missing.length > 0) {
    update(suite);
    for (let i = 0; i < missing.length; i += 100)
      execFileSync("apt-get", [...aptOptions(suite), "download", ...missing.slice(i, i + 100)], {
        cwd: dir,
        stdio: ["ignore", "ignore", "pipe"],
      });
  }
  const out = new Map<string, string>();
  for (const n of names) {
    const f = debOf(n);
    if (!f) throw new Error(`apt-get download ${n} (${suite}) left no .deb in ${dir}`);
    out.set(n, join(dir, f));
  }
  return out;
}

export function debianPackage(name: string, suite: Suite = "bookworm"): string {
  return debianPackages([name], suite).get(name)!;
}
