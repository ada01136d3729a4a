/**
 * bench/audit: `compat audit` over all GLSAs against a generated 1,000-package vdb, whole
 * process, cold (empty cache) and warm, with peak RSS; and Portage's own glsa-check on the
 * same vdb in the same run when PORTAGE_SRC names a Portage source tree (its bin/glsa-check
 * is run with python3; nothing of it is copied here). Also checks that both report the same
 * advisories.
 *
 *   npm run build && npx tsx bench/audit.ts [--glsa DIR] [--packages N] [--runs N]
 *   PORTAGE_SRC=/path/to/portage npx tsx bench/audit.ts
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { generateVardb } from "./audit-vardb.js";

const { values } = parseArgs({
  options: {
    glsa: { type: "string", default: resolve("../shared/data/glsa") },
    packages: { type: "string", default: "1000" },
    runs: { type: "string", default: "5" },
    keep: { type: "boolean", default: false },
  },
});
const glsaDir = resolve(values.glsa!);
const cli = resolve("dist/cli/bin.js");
if (!existsSync(cli)) throw new Error("run `npm run build` first");

interface Measure {
  seconds: number;
  /** user + system CPU seconds: less sensitive to other load on the machine than wall time */
  cpu: number;
  maxRssKb: number;
  status: number;
  stdout: string;
}

/** Run a command under GNU time: wall seconds and peak resident memory of the whole process. */
function measure(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Measure {
  const timeFile = join(work, "time.out");
  const r = spawnSync("/usr/bin/time", ["-f", "%e %U %S %M", "-o", timeFile, cmd, ...args], {
    env,
    encoding: "utf8",
    maxBuffer: 1 << 28,
  });
  const [seconds, user, sys, rss] = readFileSync(timeFile, "utf8").trim().split(/\s+/).slice(-4).map(Number);
  return { seconds: seconds!, cpu: user! + sys!, maxRssKb: rss!, status: r.status ?? -1, stdout: r.stdout };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (m: { seconds: number; cpu: number; maxRssKb: number }) =>
  `${m.seconds.toFixed(3)} s wall, ${m.cpu.toFixed(2)} s CPU, peak RSS ${(m.maxRssKb / 1024).toFixed(0)} MB`;

const work = mkdtempSync(join(tmpdir(), "compat-bench-audit-"));
const prefix = join(work, "prefix");
const count = Number(values.packages);
const runs = Number(values.runs);
const generated = generateVardb(prefix, glsaDir, count);
console.log(`vdb: ${generated.packages.length} packages in ${prefix}`);
console.log(`advisories: ${glsaDir}`);
console.log(
  `machine: ${loadavg()[0]!.toFixed(2)} load average (1 min) on ${spawnSync("nproc").stdout} cores`.replace(
    /\n/,
    "",
  ),
);

const audit = (cacheDir: string) =>
  measure(process.execPath, [cli, "audit", prefix, "--glsa", glsaDir, "--arch", "x86_64", "--json"], {
    ...process.env,
    COMPAT_CACHE_DIR: cacheDir,
  });

const cold: Measure[] = [];
const warm: Measure[] = [];
for (let i = 0; i < runs; i++) {
  const cacheDir = join(work, `cache-${i}`);
  cold.push(audit(cacheDir));
  warm.push(audit(cacheDir));
}
for (const m of [...cold, ...warm])
  if (m.status !== 0 && m.status !== 1) throw new Error(`compat audit failed with status ${m.status}`);
const report = JSON.parse(warm[0]!.stdout) as { findings: { id: string }[]; summary: { findings: number } };
const ours = new Set(report.findings.map((f) => f.id));
const summarize = (ms: Measure[]) => ({
  seconds: median(ms.map((m) => m.seconds)),
  cpu: median(ms.map((m) => m.cpu)),
  maxRssKb: Math.max(...ms.map((m) => m.maxRssKb)),
});
const coldM = summarize(cold);
const warmM = summarize(warm);
console.log(`compat audit, cold (no cache): ${fmt(coldM)}  (median of ${runs})`);
console.log(`compat audit, warm (cached):   ${fmt(warmM)}  (median of ${runs})`);
console.log(`findings: ${report.summary.findings} from ${ours.size} advisories`);
// what every compat command pays before it runs: node and the CLI's modules
const startup = summarize(Array.from({ length: runs }, () => measure(process.execPath, [cli, "--version"])));
console.log(`of which CLI start-up (compat --version): ${fmt(startup)}`);

const portage = process.env.PORTAGE_SRC;
if (portage && existsSync(join(portage, "bin/glsa-check"))) {
  const configRoot = join(work, "portage-config");
  const repo = join(work, "gentoo-repo");
  mkdirSync(join(configRoot, "etc/portage/repos.conf"), { recursive: true });
  mkdirSync(join(repo, "profiles"), { recursive: true });
  writeFileSync(join(repo, "profiles/repo_name"), "gentoo\n");
  writeFileSync(join(configRoot, "etc/portage/make.conf"), 'ARCH="amd64"\nACCEPT_KEYWORDS="amd64"\n');
  writeFileSync(join(configRoot, "etc/portage/repos.conf/gentoo.conf"), `[gentoo]\nlocation = ${repo}\n`);
  writeFileSync(join(portage, ".portage_not_installed"), "");
  const env = {
    ...process.env,
    PORTAGE_CONFIGROOT: configRoot,
    ROOT: `${prefix}/`,
    GLSA_DIR: glsaDir,
    PYTHONPATH: join(portage, "lib"),
  };
  const gc: Measure[] = [];
  for (let i = 0; i < Math.min(runs, 3); i++)
    gc.push(measure("python3", [join(portage, "bin/glsa-check"), "-t", "all"], env));
  if (gc[0]!.status !== 0 && gc[0]!.status !== 6)
    throw new Error(`glsa-check failed with status ${gc[0]!.status}`);
  const theirs = new Set(gc[0]!.stdout.split("\n").filter((l) => /^\d{6}-\d{2}$/.test(l)));
  const gcM = summarize(gc);
  console.log(`glsa-check -t all (Portage ${portage}): ${fmt(gcM)}  (median of ${gc.length})`);
  console.log(
    `ratio glsa-check / compat audit: cold ${(gcM.seconds / coldM.seconds).toFixed(1)}x, warm ${(gcM.seconds / warmM.seconds).toFixed(1)}x`,
  );
  const missing = [...theirs].filter((id) => !ours.has(id));
  const extra = [...ours].filter((id) => !theirs.has(id));
  console.log(
    missing.length === 0 && extra.length === 0
      ? `same advisories as glsa-check: ${theirs.size}`
      : `DIFFERENT from glsa-check: only glsa-check ${missing.join(" ") || "-"}; only compat ${extra.join(" ") || "-"}`,
  );
  if (missing.length > 0 || extra.length > 0) process.exitCode = 1;
} else {
  console.log("glsa-check: not run (set PORTAGE_SRC to a Portage source tree to compare)");
}
if (!values.keep) rmSync(work, { recursive: true, force: true });
else console.log(`kept ${work}`);
