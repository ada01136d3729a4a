/**
 * bench/delta: the size of a delta artifact after one package of a layer changes, against the
 * full artifact of the same tree (target ≤ 2 %). The change is made the way an upgrade makes it:
 * every file dpkg lists for the package gets new content (same size, every 64th byte replaced, so
 * it differs throughout as a rebuilt binary does) and the package's version in dpkg's status
 * changes. Each delta is then published onto the old layer in a local repository, and the result
 * must equal the new tree.
 *
 *   npm run build && npx tsx bench/delta.ts [PREFIX] [--package NAME]…
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { indexTree } from "../src/artifacts/entry-index.js";
import { benchDir, benchTree, compatBin, mb, measure } from "./common.js";

const args = process.argv.slice(2);
const packages = args.flatMap((a, i) => (args[i - 1] === "--package" ? [a] : []));
// A security update of the TLS library, a small library, a tool, and the largest package of the tree.
if (packages.length === 0) packages.push("libssl3", "libsqlite3-0", "xz-utils", "coreutils");
const source = benchTree(args.find((a, i) => !a.startsWith("--") && args[i - 1] !== "--package"));

const work = join(benchDir, "delta");
const compat = (argv: string[]) => measure([process.execPath, compatBin, ...argv, "-q"]);
const newest = (dir: string, suffix: string) =>
  join(
    dir,
    readdirSync(dir)
      .filter((n) => n.endsWith(suffix))
      .sort()
      .pop()!,
  );

/** Give every file of `pkg` new content and a new version; returns the files and bytes changed. */
function upgrade(prefix: string, pkg: string): { files: number; bytes: number } {
  const info = join(prefix, "var/lib/dpkg/info");
  const list = [`${pkg}.list`, `${pkg}:amd64.list`].map((n) => join(info, n)).find(existsSync);
  if (!list) throw new Error(`${pkg} is not installed in ${prefix}`);
  let files = 0;
  let bytes = 0;
  for (const path of readFileSync(list, "utf8").split("\n")) {
    const p = join(prefix, path);
    if (!path || !existsSync(p) || !lstatSync(p).isFile()) continue;
    const data = readFileSync(p);
    const noise = randomBytes(Math.ceil(data.length / 64));
    for (let i = 0; i < data.length; i += 64) data[i] = noise[i / 64]!;
    writeFileSync(p, data);
    files++;
    bytes += data.length;
  }
  const status = join(prefix, "var/lib/dpkg/status");
  writeFileSync(
    status,
    readFileSync(status, "utf8").replace(
      new RegExp(`(Package: ${pkg}\\n(?:.+\\n)*?Version: )(.+)`),
      "$1$2+bench1",
    ),
  );
  return { files, bytes };
}

function sameTree(a: string, b: string): boolean {
  const x = indexTree(a);
  const y = indexTree(b);
  if (x.size !== y.size) return false;
  for (const [k, e] of x) {
    const f = y.get(k);
    if (!f || f.type !== e.type || f.mode !== e.mode || f.digest !== e.digest) return false;
  }
  return true;
}

rmSync(work, { recursive: true, force: true });
const fullOut = join(work, "full");
const base = compat(["pack", source, "--stack", "bench", "-o", fullOut, "--epoch", "1750000000"]);
const full = newest(fullOut, ".tar.zst");
const fullSize = statSync(full).size;
const lines = [
  `tree: ${source}`,
  `full artifact: ${mb(fullSize)} (packed in ${base.seconds.toFixed(2)} s)`,
  "",
  `${"package".padEnd(14)} ${"changed".padStart(22)} ${"delta".padStart(9)} ${"delta/full".padStart(10)}  make    publish  result`,
];
const ratios: number[] = [];
for (const pkg of packages) {
  const dir = join(work, pkg);
  const prefix = join(dir, "tree/versions/2025.06/compat/linux/x86_64");
  mkdirSync(join(prefix, ".."), { recursive: true });
  execFileSync("cp", ["-a", source, prefix]);
  const changed = upgrade(prefix, pkg);
  const out = join(dir, "out");
  const made = compat([
    "pack",
    prefix,
    "--stack",
    "bench",
    "-o",
    out,
    "--epoch",
    "1750000100",
    "--delta-from",
    full,
  ]);
  const delta = newest(out, ".delta.tar.zst");
  const size = statSync(delta).size;
  const repo = join(dir, "repo");
  mkdirSync(repo);
  compat(["publish", full, "--to", `local:${repo}`]);
  const applied = compat(["publish", delta, "--to", `local:${repo}`]);
  const ok = sameTree(join(repo, "versions/2025.06/compat/linux/x86_64"), prefix);
  ratios.push(size / fullSize);
  lines.push(
    `${pkg.padEnd(14)} ${`${changed.files} files, ${mb(changed.bytes)}`.padStart(22)} ${mb(size).padStart(9)} ${`${((size / fullSize) * 100).toFixed(2)} %`.padStart(10)}  ${made.seconds.toFixed(2)} s  ${applied.seconds.toFixed(2)} s   ${ok ? "equals the new tree" : "DIFFERS from the new tree"}`,
  );
  rmSync(dir, { recursive: true, force: true });
}
const sorted = [...ratios].sort((a, b) => a - b);
lines.push(
  "",
  `median delta/full: ${(sorted[Math.floor(sorted.length / 2)]! * 100).toFixed(2)} % (target ≤ 2 % for one package; a package that is itself more than 2 % of the layer cannot meet it)`,
  "",
);
process.stdout.write(lines.join("\n"));
