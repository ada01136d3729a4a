/**
 * bench/build: cold build of examples/dev.yaml (`compat build`, whole process, empty root), and in
 * the same run a bare `mmdebstrap` of the same suite, variant, package list and apt sources, for
 * the ratio (the price of relocation, startprefix, locales, links, record and the sandbox on top
 * of mmdebstrap). Prints wall time, the stages' times and peak RSS. Target: ≤ 90 s on 2 cores.
 * With `--arch riscv64` (or aarch64) on another CPU family, both run under qemu-user (binfmt_misc):
 * target ≤ 1.3× the bare mmdebstrap of the same packages for that arch.
 * Each build is packed: with --runs 2 or more, whether the builds gave the same sha256 (DESIGN.md:
 * "two builds give the same sha256"; each build resolves its own SOURCE_DATE_EPOCH, as a user's would).
 *
 *   npm run build && npx tsx bench/build.ts [--arch A] [--runs N] [--keep]
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { DEBIAN_ARCH } from "../src/debian/mmdebstrap.js";
import { debianSources, readHostAptSources } from "../src/debian/sources.js";
import { assertArchRunnable, describeEmulation } from "../src/exec/emulation.js";
import { isArch, nodeArchToArch, notAnArchMessage } from "../src/layer/id.js";
import { loadSpec } from "../src/spec/load.js";
import { debianSuiteFor } from "../src/spec/schema.js";

const { values } = parseArgs({
  options: {
    arch: { type: "string" },
    runs: { type: "string", default: "1" },
    keep: { type: "boolean", default: false },
  },
});
const runs = Number(values.runs);
const cli = resolve("dist/cli/bin.js");
if (!existsSync(cli)) throw new Error("run `npm run build` first");
const specFile = resolve("examples/dev.yaml");
const hostArch = nodeArchToArch(process.arch);
const arch = values.arch ?? hostArch;
if (!isArch(arch)) throw new Error(`--arch ${arch}: ${notAnArchMessage(String(arch))}`);
const foreign = arch !== hostArch;
// the same preflight as compat build: a foreign arch needs qemu-user registered with binfmt_misc
const emulation = describeEmulation(assertArchRunnable(arch));
const { spec } = await loadSpec(specFile);
const debian = { ...spec.debian!, suite: debianSuiteFor(spec.debian!, arch) };
const work = mkdtempSync(join(tmpdir(), "compat-bench-build-"));

interface Measure {
  seconds: number;
  maxRssKb: number;
}

/** Wall seconds and peak RSS (the largest process of the tree) under GNU time. */
function measure(cmd: string, args: string[], input?: string): Measure {
  const timeFile = join(work, "time.out");
  const r = spawnSync("/usr/bin/time", ["-f", "%e %M", "-o", timeFile, cmd, ...args], {
    input,
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`${cmd} failed (${r.status}):\n${r.stderr.slice(-3000)}`);
  const [seconds, kb] = readFileSync(timeFile, "utf8").trim().split("\n").at(-1)!.split(" ");
  return { seconds: Number(seconds), maxRssKb: Number(kb) };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const sources = debianSources(debian, debian.mirror ? [] : await readHostAptSources());

const bare: Measure[] = [];
const build: Measure[] = [];
let stages: Array<{ stage: string; durationMs: number }> = [];
let ownPeakMb = 0;
const sha256s: string[] = [];
try {
  for (let i = 0; i < runs; i++) {
    // bare mmdebstrap: same suite, variant, packages and sources, into a directory
    bare.push(
      measure(
        "mmdebstrap",
        [
          `--variant=${debian.variant}`,
          `--architectures=${DEBIAN_ARCH[arch]}`,
          `--include=${debian.packages.join(",")}`,
          debian.suite,
          join(work, `bare-${i}`),
          "-",
        ],
        sources,
      ),
    );
    rmSync(join(work, `bare-${i}`), { recursive: true, force: true });

    const root = join(work, `root-${i}`);
    const runsDir = join(work, `runs-${i}`);
    build.push(
      measure(process.execPath, [
        cli,
        "build",
        specFile,
        "--arch",
        arch,
        "--root",
        root,
        "--runs-dir",
        runsDir,
      ]),
    );
    const runDir = join(runsDir, readdirSync(runsDir)[0]!);
    stages = JSON.parse(readFileSync(join(runDir, "timings.json"), "utf8")) as typeof stages;
    const result = JSON.parse(readFileSync(join(runDir, "result.json"), "utf8")) as { peakRssMb?: number };
    ownPeakMb = Math.max(ownPeakMb, result.peakRssMb ?? 0);
    const packed = spawnSync(
      process.execPath,
      [cli, "pack", specFile, "--arch", arch, "--root", root, "-o", join(work, `artifact-${i}`), "--json"],
      {
        encoding: "utf8",
      },
    );
    if (packed.status !== 0)
      throw new Error(`compat pack failed (${packed.status}):\n${packed.stderr.slice(-3000)}`);
    sha256s.push((JSON.parse(packed.stdout) as { sha256: string }).sha256);
    if (!values.keep) rmSync(root, { recursive: true, force: true });
  }
} finally {
  if (!values.keep) rmSync(work, { recursive: true, force: true });
}

const b = median(build.map((m) => m.seconds));
const m = median(bare.map((x) => x.seconds));
const total = stages.reduce((t, s) => t + s.durationMs, 0) / 1000;
const target = foreign
  ? `target ≤ 1.3× bare mmdebstrap: ${b / m <= 1.3 ? "met" : "NOT met"}`
  : `target ≤ 90 s: ${b <= 90 ? "met" : "NOT met"}`;
const out = [
  `bench/build: cold build of examples/dev.yaml (${debian.suite}, ${debian.variant} + ${debian.packages.length} packages, ${arch}; its programs run ${emulation})`,
  `machine: ${availableParallelism()} cores, load ${loadavg()[0]!.toFixed(2)}; ${runs} run(s), median`,
  "",
  `compat build (cold)   ${b.toFixed(1)} s   ${target}`,
  `bare mmdebstrap       ${m.toFixed(1)} s`,
  `ratio                 ${(b / m).toFixed(2)}× mmdebstrap`,
  "",
  "where the time goes (stages of the last build):",
  ...stages.map(
    (s) =>
      `  ${s.stage.padEnd(12)} ${(s.durationMs / 1000).toFixed(1).padStart(6)} s  ${((100 * s.durationMs) / 1000 / b).toFixed(0).padStart(3)}%`,
  ),
  `  ${"outside".padEnd(12)} ${(b - total).toFixed(1).padStart(6)} s  ${((100 * (b - total)) / b).toFixed(0).padStart(3)}%  (node start, spec, run directory, lock)`,
  `  bootstrap − bare mmdebstrap: ${((stages.find((s) => s.stage === "bootstrap")?.durationMs ?? 0) / 1000 - m).toFixed(1)} s (the same apt work; compat's dpkg path filters leave out docs, man pages and catalogs, its hooks extract the NSS modules)`,
  "",
  sha256s.length > 1
    ? `reproducible: ${sha256s.every((h) => h === sha256s[0]) ? `yes, ${sha256s.length} builds give sha256 ${sha256s[0]}` : `NO: ${sha256s.join(", ")} (compat build --check-reproducible names the files)`}`
    : `artifact sha256 ${sha256s[0]} (--runs 2 to see two builds give the same)`,
  `peak RSS: compat process ${ownPeakMb} MB (target ≤ 500 MB); largest process of the build tree ${Math.round(Math.max(...build.map((x) => x.maxRssKb)) / 1024)} MB; bare mmdebstrap tree ${Math.round(Math.max(...bare.map((x) => x.maxRssKb)) / 1024)} MB`,
];
process.stdout.write(`${out.join("\n")}\n`);
