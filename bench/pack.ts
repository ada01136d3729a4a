/**
 * bench/pack: `compat pack` against `tar --sort=name -cf - | zstd -T0` on the same tree in the same
 * run: wall time, throughput of the uncompressed tar stream, compressed size, peak RSS, and whether
 * two packs give the same bytes.
 *
 *   npm run build && npx tsx bench/pack.ts [PREFIX] [--runs N]
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, join } from "node:path";
import { benchDir, benchTree, compatBin, mb, measure, treeStats } from "./common.js";

const args = process.argv.slice(2);
const runsAt = args.indexOf("--runs");
const runs = runsAt === -1 ? 3 : Number(args[runsAt + 1]);
const prefix = benchTree(args.find((a, i) => !a.startsWith("--") && args[i - 1] !== "--runs"));
const out = join(benchDir, "pack-out");
const { files, bytes } = treeStats(prefix);

// Warm the page cache so both sides read from memory.
measure(["tar", "-cf", "/dev/null", "-C", prefix, "."]);

// The uncompressed tar stream's size: throughput is measured on it.
const tarBytes = Number(
  execFileSync(
    "sh",
    ["-c", `tar --sort=name -C '${dirname(prefix)}' -cf - '${prefix.split("/").pop()}' | wc -c`],
    {
      encoding: "utf8",
    },
  ).trim(),
);

interface Sample {
  seconds: number;
  peakRssMiB: number;
  size: number;
  sha256: string;
}
const sha = (p: string) => createHash("sha256").update(readFileSync(p)).digest("hex");

function peer(): Sample {
  const file = join(benchDir, "peer.tar.zst");
  const m = measure([
    "bash",
    "-c",
    `set -o pipefail; tar --sort=name --owner=0 --group=0 --numeric-owner -C '${dirname(prefix)}' -cf - '${prefix.split("/").pop()}' | zstd -q -T0 -c > '${file}'`,
  ]);
  return { ...m, size: statSync(file).size, sha256: sha(file) };
}

function ours(): Sample {
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const m = measure([
    process.execPath,
    compatBin,
    "pack",
    prefix,
    "--stack",
    "bench",
    "-o",
    out,
    "--epoch",
    "1750000000",
    "-q",
  ]);
  const file = join(out, readdirSync(out).find((n) => n.endsWith(".tar.zst"))!);
  return { ...m, size: statSync(file).size, sha256: sha(file) };
}

const peerRuns: Sample[] = [];
const ourRuns: Sample[] = [];
for (let i = 0; i < runs; i++) {
  peerRuns.push(peer());
  ourRuns.push(ours());
}
const startup = median(
  Array.from({ length: 3 }, () => measure([process.execPath, compatBin, "--version"]).seconds),
);
function median(xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
}
const p = median(peerRuns.map((r) => r.seconds));
const o = median(ourRuns.map((r) => r.seconds));
const row = (name: string, s: number, samples: Sample[]) =>
  `${name.padEnd(38)} ${s.toFixed(2).padStart(6)} s  ${(tarBytes / 1e6 / s).toFixed(0).padStart(5)} MB/s  ${mb(samples[0]!.size).padStart(9)}  peak RSS ${Math.max(...samples.map((r) => r.peakRssMiB)).toFixed(0)} MiB`;

process.stdout.write(
  [
    `tree: ${prefix}`,
    `      ${files} files, ${mb(bytes)} of content, ${mb(tarBytes)} as a tar stream; ${runs} runs each, median; ${cpus().length} cores`,
    row("tar --sort=name | zstd -T0", p, peerRuns),
    row("compat pack (zstd -T0)", o, ourRuns),
    `throughput ratio compat/peer: ${(p / o).toFixed(2)} (≥ 1.00 means at least the peer's throughput); of compat's time, ${startup.toFixed(2)} s is the CLI starting (compat --version)`,
    `reproducible: ${new Set(ourRuns.map((r) => r.sha256)).size === 1 ? "yes, every pack gave the same bytes" : "NO: packs differ"} (${ourRuns[0]!.sha256.slice(0, 16)}…)`,
    "",
  ].join("\n"),
);
