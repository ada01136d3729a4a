/**
 * bench/delta: the size of a delta artifact after a real package update, against the full
 * artifact of the same layer (target ≤ 2 %), on two trees (bench/delta-trees.ts): `dev`
 * (examples/dev.yaml's packages) and `big` (~1.1 GB, the size of an EESSI compat layer). Each
 * update is made in a copy of the tree with apt or dpkg (real .debs from Debian), then packed as a
 * delta against the tree's full artifact twice: with binary patches (the default) and with
 * --no-patches (whole changed files, the peer measured in the same run). The patched delta is
 * published onto the full artifact in a local repository, the result compared with the updated
 * tree (it must be the same), and rolled back for the next update.
 *
 *   npm run build && npx tsx bench/delta.ts [dev|big]… [--only NAME]…
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { indexTree } from "../src/artifacts/entry-index.js";
import { compatBin, type Measured, mb, measure, newest, treeStats } from "./common.js";
import { applyUpdate, benchLayer, scratchDir, type TreeName, UPDATES } from "./delta-trees.js";

const args = process.argv.slice(2);
const only = args.flatMap((a, i) => (args[i - 1] === "--only" ? [a] : []));
const trees = args.filter((a, i) => !a.startsWith("--") && args[i - 1] !== "--only") as TreeName[];
if (trees.length === 0) trees.push("dev", "big");

const compat = (argv: string[]): Measured => measure([process.execPath, compatBin, ...argv, "-q"]);
const size = (path: string) => statSync(path).size;
const pct = (a: number, b: number) => `${((a / b) * 100).toFixed(2)} %`;
const secs = (m: Measured) => `${m.seconds.toFixed(1)} s`;
const mib = (m: Measured) => `${m.peakRssMiB.toFixed(0)} MiB`;

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

/** Files and bytes that differ between two trees (regular files only). */
function changedFiles(a: string, b: string): { files: number; bytes: number } {
  const x = indexTree(a);
  let files = 0;
  let bytes = 0;
  for (const [k, e] of indexTree(b))
    if (e.type === "file" && x.get(k)?.digest !== e.digest) {
      files++;
      bytes += e.size;
    }
  return { files, bytes };
}

const out: string[] = [];
const say = (line = "") => {
  out.push(line);
  process.stderr.write(`${line}\n`);
};
const ratios: number[] = [];

for (const tree of trees) {
  const base = benchLayer(tree);
  const work = join(scratchDir, "work", tree);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const stats = treeStats(base);
  const fullOut = join(work, "full");
  const packed = compat(["pack", base, "--stack", "bench", "-o", fullOut, "--epoch", "1750000000"]);
  const full = newest(fullOut, ".tar.zst");
  const fullSize = size(full);
  const repo = join(work, "repo");
  mkdirSync(repo);
  const first = compat(["publish", full, "--to", `local:${repo}`]);
  say(
    `tree ${tree}: ${stats.files} files, ${mb(stats.bytes)}; full artifact ${mb(fullSize)} (packed in ${secs(packed)}, ${mib(packed)}; published in ${secs(first)})`,
  );
  say(
    `${"update".padEnd(15)} ${"changed".padStart(19)} ${"delta".padStart(9)} ${"delta/full".padStart(10)} ${"whole files".padStart(11)} ${"w/full".padStart(8)}  ${"make".padStart(6)} ${"RSS".padStart(8)}  ${"apply".padStart(6)} ${"RSS".padStart(8)}  result`,
  );
  const details: string[] = [];
  for (const update of UPDATES[tree]) {
    if (only.length > 0 && !only.includes(update.name)) continue;
    const dir = join(work, update.name);
    const prefix = join(dir, "tree/versions/2025.06/compat/linux/x86_64");
    mkdirSync(join(prefix, ".."), { recursive: true });
    execFileSync("cp", ["-a", base, prefix]);
    const versions = applyUpdate(prefix, update);
    const changed = changedFiles(base, prefix);
    const deltaArgs = (o: string) => [
      "pack",
      prefix,
      "--stack",
      "bench",
      "-o",
      join(dir, o),
      "--epoch",
      "1750000100",
      "--delta-from",
      full,
    ];
    const made = compat(deltaArgs("patched"));
    const delta = newest(join(dir, "patched"), ".delta.tar.zst");
    compat([...deltaArgs("whole"), "--no-patches"]);
    const whole = newest(join(dir, "whole"), ".delta.tar.zst");
    const applied = compat(["publish", delta, "--to", `local:${repo}`]);
    const ok = sameTree(join(repo, "versions/2025.06/compat/linux/x86_64"), prefix);
    compat(["rollback", "--to", `local:${repo}`]);
    const manifest = JSON.parse(execFileSync("cat", [`${delta}.manifest.json`], { encoding: "utf8" }));
    ratios.push(size(delta) / fullSize);
    say(
      `${update.name.padEnd(15)} ${`${changed.files} files, ${mb(changed.bytes)}`.padStart(19)} ${mb(size(delta)).padStart(9)} ${pct(size(delta), fullSize).padStart(10)} ${mb(size(whole)).padStart(11)} ${pct(size(whole), fullSize).padStart(8)}  ${secs(made).padStart(6)} ${mib(made).padStart(8)}  ${secs(applied).padStart(6)} ${mib(applied).padStart(8)}  ${ok ? "= new tree" : "DIFFERS from the new tree"}`,
    );
    details.push(
      `  ${update.name} (${update.suite}): ${versions.join(", ")}; ${manifest.delta.patches.length} patches, ${manifest.delta.deletions.length} deletions, manifest ${(size(`${delta}.manifest.json`) / 1e3).toFixed(1)} kB`,
    );
    rmSync(dir, { recursive: true, force: true });
  }
  say();
  for (const d of details) say(d);
  say();
}
const sorted = [...ratios].sort((a, b) => a - b);
say(
  `delta/full over all ${ratios.length} updates: median ${(sorted[Math.floor(sorted.length / 2)]! * 100).toFixed(2)} %, largest ${(sorted[sorted.length - 1]! * 100).toFixed(2)} % (target ≤ 2 % for one package)`,
);
process.stdout.write(`${out.join("\n")}\n`);
