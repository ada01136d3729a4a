/**
 * bench/publish-cvmfs: publishing to a real CernVM-FS 2.12 stratum 0 (../shared/tools/cvmfs,
 * installed when missing, in a throwaway repository removed afterwards): a first publish of a layer,
 * its replacement after a one-package update (libssl3 from bookworm-security, bench/delta-trees.ts),
 * a rollback, the update as a delta, and the replacement with `--keep-copy`, each with its wall time,
 * compat's peak RSS and the largest size of the transaction's scratch area (the overlay's upper dir,
 * sampled every 100 ms). The target: a replacement ≤ 0.3× the first publish of the same layer. The
 * peer, measured in the same run: EESSI's ingest-tarball.sh procedure for a compat layer that exists
 * (transaction, `mv` of the old layer to `.<arch>-NNN`, `tar -x` of the whole artifact, publish).
 *
 *   npm run build && npx tsx bench/publish-cvmfs.ts [dev|big] [--rounds=N]
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { cvmfsUnavailable, makeTestRepository } from "../test/helpers/cvmfs-server.js";
import { compatBin, mb, newest, treeStats } from "./common.js";
import { applyUpdate, benchLayer, scratchDir, type TreeName, UPDATES } from "./delta-trees.js";

const tree = (process.argv.slice(2).find((a) => !a.startsWith("--")) ?? "dev") as TreeName;
const TOP = "2025.06/compat/linux/x86_64";

interface Run {
  seconds: number;
  peakRssMiB: number;
  scratchBytes: number;
}

/** Largest size of `dir` while `argv` runs (du every 100 ms), with wall time and peak RSS (GNU time). */
function measure(argv: string[], dir: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    let peak = 0;
    const sample = () => {
      try {
        const out = execFileSync("du", ["-sb", dir], {
          encoding: "utf8",
          stdio: ["ignore", "pipe", "ignore"],
        });
        peak = Math.max(peak, Number(out.split("\t")[0]));
      } catch {
        /* between transactions the directory may be gone */
      }
    };
    const timer = setInterval(sample, 100);
    const child = spawn("/usr/bin/time", ["-f", "%e %M", ...argv], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (c) => (stderr += c));
    child.on("close", (status) => {
      clearInterval(timer);
      sample();
      if (status !== 0) {
        reject(new Error(`${argv.join(" ")} failed (${status}):\n${stderr.slice(-3000)}`));
        return;
      }
      const [seconds, kib] = stderr.trim().split("\n").pop()!.split(" ").map(Number);
      resolve({ seconds: seconds!, peakRssMiB: kib! / 1024, scratchBytes: peak });
    });
  });
}

const unavailable = await cvmfsUnavailable();
if (unavailable) {
  process.stderr.write(`bench/publish-cvmfs: cannot run here: ${unavailable}\n`);
  process.exit(2);
}

const base = benchLayer(tree);
const work = join(scratchDir, "work", `publish-cvmfs-${tree}`);
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
const compat = (args: string[]) => [process.execPath, compatBin, ...args, "-q"];

// The layer, and the same layer after a one-package update (the first update bench/delta makes).
const update = UPDATES[tree][0]!;
const updated = join(work, "updated/versions", TOP);
mkdirSync(join(updated, ".."), { recursive: true });
execFileSync("cp", ["-a", base, updated]);
const versions = applyUpdate(updated, update);
const pack = (prefix: string, out: string, epoch: number, more: string[] = []) => {
  execFileSync(process.execPath, [
    compatBin,
    "pack",
    prefix,
    "--stack",
    "bench",
    "-o",
    join(work, out),
    "--epoch",
    String(epoch),
    "-q",
    ...more,
  ]);
  return newest(join(work, out), ".tar.zst");
};
const full = pack(base, "a", 1_750_000_000);
const full2 = pack(updated, "b", 1_750_000_100);
const delta = pack(updated, "d", 1_750_000_200, ["--delta-from", full]);
const stats = treeStats(base);

/**
 * One round in a fresh repository: every step, then (in the first round only) the peer. The machine
 * is shared, so each step's figure is the fastest of the rounds (the least disturbed one).
 */
async function round(withPeer: boolean): Promise<{ steps: [string, Run][]; peer?: Run; load: number }> {
  const repo = await makeTestRepository("bench");
  const scratch = join("/var/spool/cvmfs", repo.name, "scratch/current");
  const state = join(work, `state-${repo.name}`);
  const to = ["--to", `cvmfs:${repo.name}`, "--state", state];
  const steps: [string, Run][] = [];
  const load = Number(readFileSync("/proc/loadavg", "utf8").split(" ")[0]);
  try {
    steps.push(["first publish", await measure(compat(["publish", full, ...to]), scratch)]);
    steps.push([
      `replacement (${update.name} update)`,
      await measure(compat(["publish", full2, ...to]), scratch),
    ]);
    steps.push(["rollback", await measure(compat(["rollback", ...to]), scratch)]);
    steps.push(["delta", await measure(compat(["publish", delta, ...to]), scratch)]);
    steps.push(["rollback", await measure(compat(["rollback", ...to]), scratch)]);
    steps.push([
      "replacement with --keep-copy",
      await measure(compat(["publish", full2, ...to, "--keep-copy"]), scratch),
    ]);
    if (!withPeer) return { steps, load };
    // The peer: EESSI's procedure for an existing compat layer, on the same repository and artifacts.
    const layer = join(repo.root, "versions", TOP);
    const eessi = [
      "set -e",
      `cvmfs_server transaction ${repo.name} >/dev/null`,
      `mv '${layer}' '${join(layer, "..")}/.x86_64-eessi'`,
      `zstd -q -d -c '${full}' | tar -x -p --no-same-owner -C '${join(repo.root, "versions")}' -f -`,
      `cvmfs_server publish -m 'EESSI-style replacement' ${repo.name} >/dev/null 2>&1`,
    ].join("\n");
    return { steps, peer: await measure(["sh", "-c", eessi], scratch), load };
  } finally {
    await repo.remove();
  }
}

const rounds = Number(process.argv.find((a) => a.startsWith("--rounds="))?.split("=")[1] ?? 3);
const results: Awaited<ReturnType<typeof round>>[] = [];
for (let i = 0; i < rounds; i++) results.push(await round(i === 0));
const fastest = (k: number): Run =>
  results.map((r) => r.steps[k]![1]).reduce((a, b) => (b.seconds < a.seconds ? b : a));
const rows: [string, Run][] = results[0]!.steps.map(([name], k) => [name, fastest(k)]);
const peer = results[0]!.peer;
const first = rows[0]![1];
const out: string[] = [];
const say = (line = "") => {
  out.push(line);
  process.stderr.write(`${line}\n`);
};
say(
  `${rounds} round(s), the fastest of each step (1-minute load average at the rounds' start: ${results.map((r) => r.load.toFixed(1)).join(", ")})`,
);
say(
  `tree ${tree}: ${stats.files} files, ${mb(stats.bytes)}; full artifact ${mb(statSync(full).size)}, delta ${mb(statSync(delta).size)}; update ${versions.join(", ")}`,
);
say(
  `${"".padEnd(32)} ${"time".padStart(8)} ${"×first".padStart(7)} ${"scratch".padStart(10)} ${"RSS".padStart(8)}`,
);
const row = (name: string, r: Run) =>
  say(
    `${name.padEnd(32)} ${`${r.seconds.toFixed(1)} s`.padStart(8)} ${(r.seconds / first.seconds).toFixed(2).padStart(7)} ${mb(r.scratchBytes).padStart(10)} ${`${r.peakRssMiB.toFixed(0)} MiB`.padStart(8)}`,
  );
for (const [name, r] of rows) row(name, r);
if (peer) row("peer: EESSI mv + untar + publish", peer);
const replacement = rows[1]![1];
say();
say(
  `replacement / first publish: ${(replacement.seconds / first.seconds).toFixed(2)} (target ≤ 0.3); replacement / EESSI's procedure: ${peer ? (replacement.seconds / peer.seconds).toFixed(2) : "-"}`,
);
process.stdout.write(`${out.join("\n")}\n`);
rmSync(work, { recursive: true, force: true });
