/**
 * bench/impact: `compat impact` of a candidate against the published dev layer under a software
 * tree of ≥ 5,000 ELF objects (target ≤ 10 s whole process on 2 cores, peak RSS ≤ 500 MB), with
 * its peer measured in the same run: the layer's own loader, `ld.so --list`, run on every object
 * in the sandbox (one process each, as a shell loop over the list).
 *
 * The software tree is made once into .cache/bench-impact/: the real Debian bookworm packages
 * listed in bench/impact-packages.txt (Python, R and VTK extension modules, ParaView, GDAL,
 * TeX Live, LLVM, coreutils …), fetched with apt-get download, extracted with dpkg-deb -x under
 * one prefix and relocated onto the dev layer with patchelf (the layer's loader as PT_INTERP, the
 * tree's and the layer's library dirs as RPATH), as a software layer is built on a compat layer.
 * The candidate is the dev layer with libz replaced by bullseye's 1.2.11 (hard-linked copy).
 *
 * Cold runs keep nothing (--no-cache); warm runs start from the verdicts of an earlier run (what
 * the gate has for the second candidate on the same published layer).
 *
 *   npm run build && npx tsx bench/impact.ts [--runs N] [--report FILE]
 *
 * --report FILE keeps the cold run's JSON report (objects, findings, skipped files), so the verdicts
 * of two versions of the analyzer can be compared on the same tree.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runInLayer } from "../src/exec/sandbox.js";
import { scanSoftware, softwareTree } from "../src/impact/software.js";
import { readElf } from "../src/layer/elf.js";
import { debianPackage, debianPackages } from "../test/helpers/debian-packages.js";
import { devLayer } from "../test/helpers/dev-layer.js";
import { relocateOnto } from "../test/helpers/software-layer.js";
import { compatBin, projectRoot } from "./common.js";

const LIB = "usr/lib/x86_64-linux-gnu";
const runs = (() => {
  const i = process.argv.indexOf("--runs");
  return i > 0 ? Number(process.argv[i + 1]) : 3;
})();
const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
/** Our time against the peer's: the ratio, and which way it goes. */
const vs = (ours: number, peer: number) =>
  `${(ours / peer).toFixed(2)}× the peer's time (${ours <= peer ? `${(peer / ours).toFixed(1)}× faster` : `${(ours / peer).toFixed(1)}× slower`})`;
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const dev = await devLayer();
  const base = join(projectRoot, ".cache/bench-impact");
  const software = join(base, "software");
  const at = `/cvmfs/${dev.layer.repository}/versions/${dev.layer.version}/software/linux/${dev.layer.arch}`;
  if (!existsSync(join(base, "software.ready"))) {
    rmSync(software, { recursive: true, force: true });
    mkdirSync(software, { recursive: true });
    const names = readFileSync(join(projectRoot, "bench/impact-packages.txt"), "utf8")
      .split("\n")
      .filter(Boolean);
    process.stderr.write(`bench/impact: fetching ${names.length} Debian packages (once)\n`);
    const debs = debianPackages(names);
    process.stderr.write("bench/impact: extracting and relocating them onto the dev layer (once)\n");
    for (const deb of debs.values()) execFileSync("dpkg-deb", ["-x", deb, software]);
    const n = await relocateOnto(software, at, dev.prefix);
    process.stderr.write(`bench/impact: ${n} objects relocated\n`);
    writeFileSync(join(base, "software.ready"), "");
  }
  const candidate = join(base, "candidate");
  // made from the dev layer of its time: a dev layer made anew (other code, other packages) makes it anew
  const readyFile = join(base, "candidate.ready");
  if (!existsSync(readyFile) || readFileSync(readyFile, "utf8") !== dev.localPrefix) {
    rmSync(candidate, { recursive: true, force: true });
    execFileSync("cp", ["-al", dev.localPrefix, candidate]);
    const old = join(base, "zlib-bullseye");
    rmSync(old, { recursive: true, force: true });
    execFileSync("dpkg-deb", ["-x", debianPackage("zlib1g", "bullseye"), old]);
    for (const f of ["libz.so.1", "libz.so.1.2.13"]) unlinkSync(join(candidate, LIB, f));
    execFileSync("cp", [join(old, "lib/x86_64-linux-gnu/libz.so.1.2.11"), join(candidate, LIB)]);
    execFileSync("ln", ["-s", "libz.so.1.2.11", join(candidate, LIB, "libz.so.1")]);
    execFileSync("patchelf", [
      "--force-rpath",
      "--set-rpath",
      `${dev.prefix}/${LIB}:${dev.prefix}/usr/lib`,
      join(candidate, LIB, "libz.so.1.2.11"),
    ]);
    writeFileSync(readyFile, dev.localPrefix);
  }

  const scan = await scanSoftware([softwareTree(software, at)]);
  const dynamic: string[] = [];
  for (const f of scan.elf) {
    const info = await readElf(f.local);
    if (info?.dynamic && (info.type === "exec" || info.type === "dyn")) dynamic.push(f.path);
  }
  process.stderr.write(
    `bench/impact: ${scan.entries} entries, ${scan.elf.length} ELF files, ${dynamic.length} dynamically linked; ${runs} runs\n`,
  );

  const argv = (cache: string[]) => [
    compatBin,
    "impact",
    candidate,
    "--against",
    dev.localPrefix,
    "--software",
    `${software}=${at}`,
    "--json",
    ...cache,
  ];
  type Report = {
    summary: Record<string, unknown>;
    abi: {
      objects: number;
      reads: number;
      durationMs: number;
      verdicts: { reused: number; computed: number };
    };
  };
  const measure = (cache: string[]) => {
    const r = spawnSync("/usr/bin/time", ["-f", "%e %M %U %S", process.execPath, ...argv(cache)], {
      encoding: "utf8",
      maxBuffer: 1 << 30,
      env: { ...process.env, COMPAT_LOG_LEVEL: "warn" },
    });
    if (r.status !== 0 && r.status !== 3)
      throw new Error(`compat impact failed (${r.status}):\n${r.stderr.slice(-2000)}`);
    const [sec, kib, user, sys] = r.stderr.trim().split("\n").pop()!.split(" ").map(Number);
    return {
      ms: sec! * 1000,
      cpuMs: (user! + sys!) * 1000,
      rssMb: kib! / 1024,
      report: JSON.parse(r.stdout) as Report,
    };
  };
  // cold: nothing cached; warm: the verdicts of an earlier run of the same published layer and tree
  const cold = Array.from({ length: runs }, () => measure(["--no-cache"]));
  const cacheDir = join(base, "verdict-cache");
  rmSync(cacheDir, { recursive: true, force: true });
  measure(["--cache", cacheDir]);
  const warm = Array.from({ length: runs }, () => measure(["--cache", cacheDir]));
  const ours = median(cold.map((m) => m.ms));
  const oursCpu = median(cold.map((m) => m.cpuMs));
  const warmCpu = median(warm.map((m) => m.cpuMs));
  const oursWarm = median(warm.map((m) => m.ms));
  const rss = Math.max(...cold.map((m) => m.rssMb));
  const warmRss = Math.max(...warm.map((m) => m.rssMb));
  const report = cold[0]!.report;
  // --report FILE: the cold run's JSON report, to compare the verdicts of two versions of the code
  const reportAt = process.argv.indexOf("--report");
  if (reportAt > 0) writeFileSync(process.argv[reportAt + 1]!, JSON.stringify(report, null, 2));
  const warmReport = warm[0]!.report;

  // The peer: the candidate's loader lists the libraries of every object, one process each, in the sandbox.
  const loader = `${dev.prefix}/lib64/ld-linux-x86-64.so.2`;
  const script = `n=0; while IFS= read -r f; do "${loader}" --list "$f" >/dev/null 2>&1 || n=$((n+1)); done; echo "$n"`;
  const p0 = performance.now();
  const peer = await runInLayer({ prefixDir: candidate, prefix: dev.prefix }, ["/bin/sh", "-c", script], {
    input: dynamic.join("\n"),
    readOnlyLayer: true,
    network: false,
    cwd: "/",
    binds: [{ src: software, dest: at, readOnly: true }],
    timeoutMs: 3_600_000,
  });
  const peerMs = performance.now() - p0;
  const load = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");

  const sum = report.summary;
  console.log(
    `load average ${load} (2 cores, shared)\n` +
      `impact cold (--no-cache): ${s(ours)} wall, ${s(oursCpu)} CPU (user+sys), median of ${runs} (target ≤ 10 s wall), peak RSS ${rss.toFixed(0)} MB (target ≤ 500 MB): ` +
      `${report.abi.objects} objects checked against the published layer and the candidate ` +
      `(ABI part ${s(report.abi.durationMs)}, ${report.abi.reads} file reads, ${report.abi.verdicts.computed} verdicts computed, ` +
      `${report.abi.verdicts.reused} shared by both layers); ${sum.regressions} regressions, ${sum.brokenBefore} broken before too`,
  );
  console.log(
    `impact warm (verdicts cached by content): ${s(oursWarm)} wall, ${s(warmCpu)} CPU, median of ${runs}, peak RSS ${warmRss.toFixed(0)} MB ` +
      `(ABI part ${s(warmReport.abi.durationMs)}, ${warmReport.abi.reads} file reads, ${warmReport.abi.verdicts.reused} verdicts reused, ${warmReport.abi.verdicts.computed} computed)`,
  );
  console.log(
    `peer: ld.so --list on each of the ${dynamic.length} objects through the candidate, in the sandbox: ${s(peerMs)} ` +
      `(${peer.stdout.trim()} failed) → compat impact cold: ${vs(ours, peerMs)}; warm: ${vs(oursWarm, peerMs)} ` +
      "(the peer resolves sonames on one layer only; compat impact checks both layers, versions and symbols besides)",
  );
}

main().catch((e: unknown) => {
  process.stderr.write(`bench/impact: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
