/**
 * bench/update: `compat update` of the dev layer to a ready candidate (gates included), whole
 * process, with the share of it that is the build, the packing and the gates, and peak RSS (the
 * compat process's own, and the largest process of the tree). The base: examples/dev.yaml built
 * without bookworm-security (examples/dev-without-security.yaml), packed and published to a local
 * `staging` target of a site config in .bench/update/ (built once and kept; --fresh builds it
 * again). Peer, in the same run: a bare `mmdebstrap` of the same suite, variant, packages and
 * sources as the update's rebuild (the part no update of a relocated layer can skip). Target
 * (DESIGN.md): ≤ 2 min on 2 cores.
 *
 *   npm run build && npx tsx bench/update.ts [--fresh]
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { DEBIAN_ARCH } from "../src/debian/mmdebstrap.js";
import { debianSources, readHostAptSources } from "../src/debian/sources.js";
import { nodeArchToArch } from "../src/layer/id.js";
import { loadSpec } from "../src/spec/load.js";
import { debianSuiteFor } from "../src/spec/schema.js";
import { benchDir, compatBin, measure, projectRoot } from "./common.js";

const { values } = parseArgs({ options: { fresh: { type: "boolean", default: false } } });
if (!existsSync(compatBin)) throw new Error("run `npm run build` first");
const arch = nodeArchToArch(process.arch);
if (!arch) throw new Error(`unsupported host arch ${process.arch}`);
const dir = join(benchDir, "update");
if (values.fresh) rmSync(dir, { recursive: true, force: true });
mkdirSync(join(dir, "staging/software.example.org"), { recursive: true });
const config = join(dir, "compat.yaml");
writeFileSync(
  config,
  [
    "state: state",
    "layers:",
    `  dev: {spec: ${JSON.stringify(join(projectRoot, "examples/dev.yaml"))}, arches: [${arch}]}`,
    "targets:",
    "  staging: {to: local:staging/software.example.org, policy: {approvals: 0}}",
    "",
  ].join("\n"),
);
const compat = (args: string[]) => {
  const r = spawnSync(process.execPath, [compatBin, ...args], { encoding: "utf8", maxBuffer: 1 << 26 });
  if (r.status !== 0)
    throw new Error(`compat ${args.join(" ")} failed (${r.status}):\n${r.stderr.slice(-3000)}`);
  return r.stdout;
};

// the base, once: the layer without its security updates, published to staging
const baseRoot = join(dir, "base-root/software.example.org");
const published = join(dir, "base-published.json");
if (!existsSync(published)) {
  process.stderr.write("building the base (examples/dev-without-security.yaml) once\n");
  const oldSpec = join(projectRoot, "examples/dev-without-security.yaml");
  compat(["build", oldSpec, "--arch", arch, "--root", baseRoot, "--runs-dir", join(dir, "runs")]);
  const artifact = JSON.parse(
    compat([
      "pack",
      oldSpec,
      "--arch",
      arch,
      "--root",
      baseRoot,
      "-o",
      join(dir, "base-artifacts"),
      "--json",
    ]),
  ).artifact as string;
  writeFileSync(published, JSON.stringify({ artifact }));
}
const { artifact: baseArtifact } = JSON.parse(readFileSync(published, "utf8")) as { artifact: string };
// staging holds the base again before every run (a previous run may have promoted a candidate)
compat(["publish", baseArtifact, "--to", "staging", "--config", config]);

/** Wall seconds, peak RSS of the largest process (GNU time) and stdout of `argv`. */
function timed(argv: string[]): { seconds: number; peakRssMiB: number; stdout: string } {
  const timeFile = join(dir, "time.out");
  const r = spawnSync("/usr/bin/time", ["-f", "%e %M", "-o", timeFile, ...argv], {
    encoding: "utf8",
    maxBuffer: 1 << 26,
  });
  if (r.status !== 0) throw new Error(`${argv.join(" ")} failed (${r.status}):\n${r.stderr.slice(-3000)}`);
  const [seconds, kib] = readFileSync(timeFile, "utf8").trim().split("\n").at(-1)!.split(" ").map(Number);
  return { seconds: seconds!, peakRssMiB: kib! / 1024, stdout: r.stdout };
}

const load = loadavg()[0]!;
const run = timed([
  process.execPath,
  compatBin,
  "update",
  "dev",
  "--arch",
  arch,
  "--config",
  config,
  "--json",
]);
const out = JSON.parse(run.stdout) as {
  unchanged: boolean;
  candidate?: { id: number; state: string };
  durationMs: { total: number; build: number; pack?: number; gates?: number };
  peakRssMb: number;
  full?: { size: number };
  delta?: { size: number };
  packageDiff?: { upgraded: unknown[]; added: unknown[]; removed: unknown[] };
};
if (out.unchanged || out.candidate?.state !== "ready")
  throw new Error(`the update did not end with a ready candidate: ${run.stdout.slice(0, 2000)}`);

// the peer: a bare mmdebstrap of what the rebuild installs
const { spec } = await loadSpec(join(projectRoot, "examples/dev.yaml"));
const debian = { ...spec.debian!, suite: debianSuiteFor(spec.debian!, arch) };
const work = mkdtempSync(join(tmpdir(), "compat-bench-update-"));
let bare: { seconds: number; peakRssMiB: number };
try {
  writeFileSync(
    join(work, "sources"),
    debianSources(debian, debian.mirror ? [] : await readHostAptSources()),
  );
  bare = measure([
    "sh",
    "-c",
    `mmdebstrap --variant=${debian.variant} --architectures=${DEBIAN_ARCH[arch]} --format=directory --include=${debian.packages.join(",")} ${debian.suite} ${join(work, "tree")} - <${join(work, "sources")} >/dev/null 2>&1`,
  ]);
} finally {
  rmSync(work, { recursive: true, force: true });
}

const d = out.durationMs;
const pct = (ms: number | undefined) => `${(((ms ?? 0) / d.total) * 100).toFixed(0)} %`;
const s = (ms: number | undefined) => `${((ms ?? 0) / 1000).toFixed(1)} s`;
const p = out.packageDiff!;
process.stdout.write(
  [
    `compat update dev --arch ${arch} → candidate ${out.candidate.id} ready (${availableParallelism()} cores, load ${load.toFixed(1)} at start)`,
    `  whole process      ${run.seconds.toFixed(1)} s (target ≤ 120 s: ${run.seconds <= 120 ? "met" : "not met"})`,
    `    build            ${s(d.build)} (${pct(d.build)})`,
    `    pack (full+delta) ${s(d.pack)} (${pct(d.pack)})`,
    `    gates            ${s(d.gates)} (${pct(d.gates)})`,
    `  packages           ${p.upgraded.length} upgraded, ${p.added.length} added, ${p.removed.length} removed`,
    `  delta              ${((out.delta?.size ?? 0) / 1e6).toFixed(2)} MB = ${((100 * (out.delta?.size ?? 0)) / (out.full?.size ?? 1)).toFixed(2)} % of the full artifact (${((out.full?.size ?? 0) / 1e6).toFixed(1)} MB)`,
    `  peak RSS           compat ${out.peakRssMb} MB, largest process of the tree ${run.peakRssMiB.toFixed(0)} MiB`,
    `peer: bare mmdebstrap of the same packages and sources ${bare.seconds.toFixed(1)} s (${bare.peakRssMiB.toFixed(0)} MiB): update / mmdebstrap = ${(run.seconds / bare.seconds).toFixed(2)}×`,
    "",
  ].join("\n"),
);
