/**
 * bench/watch: `compat watch --once` over nine gentoo layers (three versions × three arches,
 * generated vdbs of ~1,000 packages against the real 3,817 GLSAs, and a gentoo.git of ~600
 * commits in gentoo's style for the gentoo-git source) and nine debian layers (the same
 * versions × arches, dpkg status files of ~150 packages, a security index of ~3,000 binaries with
 * changelogs), every source of each flavor, whole process: cold (no cache, new store) and warm
 * (median of runs), with peak RSS. Peer, measured in the same run: the same work as one
 * `compat audit` process per layer.
 *
 *   npm run build && npx tsx bench/watch.ts [--runs N] [--glsa DIR]
 */
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { generateVardb, rng } from "./audit-vardb.js";
import { compatBin, measure } from "./common.js";

const { values } = parseArgs({
  options: {
    glsa: { type: "string", default: resolve("../shared/data/glsa") },
    runs: { type: "string", default: "5" },
    keep: { type: "boolean", default: false },
  },
});
const runs = Number(values.runs);
const work = mkdtempSync(join(tmpdir(), "compat-bench-watch-"));
const VERSIONS = ["2023.06", "2025.06", "2026.06"];
const ARCHES = ["x86_64", "aarch64", "riscv64"] as const;
const DEB_ARCH = { x86_64: "amd64", aarch64: "arm64", riscv64: "riscv64" } as const;
const repo = join(work, "repo");

// --- gentoo layers and a gentoo.git with commits touching their packages ---
const cps = new Set<string>();
for (const [i, version] of VERSIONS.entries())
  for (const arch of ARCHES) {
    const prefix = join(repo, "versions", version, "compat/linux", arch);
    const g = generateVardb(prefix, values.glsa!, 1000, 2023 + i);
    for (const p of g.packages) cps.add(p.cpv.replace(/-[0-9].*$/, ""));
  }
const gentoo = join(work, "gentoo");
mkdirSync(gentoo);
execFileSync("git", ["init", "-q", "-b", "master", gentoo]);
const random = rng(7);
const cpList = [...cps].sort();
const stream: string[] = [];
const now = Math.floor(Date.now() / 1000);
let mark = 0;
const commit = (subject: string, body: string, files: Record<string, string>, when: number) => {
  mark++;
  const message = `${subject}\n\n${body}Signed-off-by: Sam James <sam@gentoo.org>\n`;
  stream.push(
    "commit refs/heads/master",
    `mark :${mark}`,
    `committer Sam James <sam@gentoo.org> ${when} +0000`,
    `data ${Buffer.byteLength(message)}`,
    message,
  );
  if (mark > 1) stream.push(`from :${mark - 1}`);
  for (const [path, content] of Object.entries(files))
    stream.push(`M 644 inline ${path}`, `data ${Buffer.byteLength(content)}`, content);
  stream.push("");
};
commit("*/*: the layers' tree", "", { "profiles/repo_name": "gentoo\n" }, now - 30 * 86400);
for (let i = 0; i < 600; i++) {
  const cp = cpList[Math.floor(random() * cpList.length)]!;
  const pn = cp.split("/")[1]!;
  const version = `${900 + i}.0`;
  const kind = random();
  const body =
    kind < 0.15
      ? `Fixes CVE-2026-${10000 + i}.\n\nBug: https://bugs.gentoo.org/${940000 + i}\n`
      : kind < 0.25
        ? `Security bump.\n\nBug: https://bugs.gentoo.org/${940000 + i}\n`
        : kind < 0.6
          ? `Bug: https://bugs.gentoo.org/${940000 + i}\n`
          : "";
  commit(
    `${cp}: add ${version}`,
    body,
    { [`${cp}/${pn}-${version}.ebuild`]: `EAPI=8\nSLOT="0"\n` },
    now - (600 - i) * 60,
  );
}
execFileSync("git", ["-C", gentoo, "fast-import", "--quiet"], { input: stream.join("\n") });
execFileSync("git", ["-C", gentoo, "reset", "-q", "--hard", "master"]);
const pinned = execFileSync("git", ["-C", gentoo, "rev-list", "--max-parents=0", "HEAD"], {
  encoding: "utf8",
}).trim();

// --- debian layers and an offline security index ---
const index = join(work, "index");
mkdirSync(join(index, "changelogs"), { recursive: true });
const sources = Array.from({ length: 300 }, (_, i) => `src${String(i).padStart(3, "0")}`);
const release = new Date().toUTCString();
writeFileSync(
  join(index, "deb.debian.org_debian-security_dists_bookworm-security_InRelease"),
  `Origin: Debian\nSuite: oldstable-security\nCodename: bookworm-security\nDate: ${release}\nValid-Until: ${new Date(Date.now() + 7 * 86400_000).toUTCString()}\n`,
);
for (const arch of Object.values(DEB_ARCH)) {
  const stanzas: string[] = [];
  for (const [i, s] of sources.entries())
    for (let b = 0; b < 10; b++)
      stanzas.push(
        `Package: ${s}-bin${b}\nSource: ${s}\nVersion: 1.${i}-1+deb12u${i % 3 === 0 ? 2 : 1}\nArchitecture: ${arch}\nSize: ${1000 + b}\n`,
      );
  writeFileSync(
    join(
      index,
      `deb.debian.org_debian-security_dists_bookworm-security_updates_main_binary-${arch}_Packages`,
    ),
    `${stanzas.join("\n")}`,
  );
}
for (const [i, s] of sources.entries())
  if (i % 3 === 0)
    writeFileSync(
      join(index, "changelogs", `${s}_1.${i}-1+deb12u2.changelog`),
      `${s} (1.${i}-1+deb12u2) bookworm-security; urgency=high\n\n  * CVE-2026-${20000 + i}: a fix.\n\n -- Security Team <team@security.debian.org>  Mon, 01 Dec 2026 10:00:00 +0000\n`,
    );
for (const version of VERSIONS)
  for (const arch of ARCHES) {
    const prefix = join(repo, "versions", `${version}-deb`, "compat/linux", arch);
    mkdirSync(join(prefix, "var/lib/dpkg"), { recursive: true });
    mkdirSync(join(prefix, "usr/lib"), { recursive: true });
    writeFileSync(
      join(prefix, "usr/lib/os-release"),
      'ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n',
    );
    const status: string[] = [];
    for (let i = 0; i < 150; i++) {
      const s = sources[i * 2]!;
      status.push(
        `Package: ${s}-bin0\nStatus: install ok installed\nArchitecture: ${DEB_ARCH[arch]}\nSource: ${s}\nVersion: 1.${i * 2}-1+deb12u1\n`,
      );
    }
    writeFileSync(join(prefix, "var/lib/dpkg/status"), status.join("\n"));
  }

// --- the site config ---
mkdirSync(join(work, "specs"));
const layers: string[] = [];
for (const version of VERSIONS) {
  const tag = version.replace(".", "");
  writeFileSync(
    join(work, "specs", `eessi-${tag}.yaml`),
    `repository: software.example.org\nstack: eessi\nversion: "${version}"\narches: [x86_64, aarch64, riscv64]\nflavor: gentoo\ngentoo:\n  repository: {commit: "${pinned}"}\n`,
  );
  writeFileSync(
    join(work, "specs", `dev-${tag}.yaml`),
    `repository: software.example.org\nstack: dev\nversion: "${version}-deb"\narches: [x86_64, aarch64, riscv64]\nflavor: debian\ndebian: {suite: bookworm}\n`,
  );
  layers.push(
    `  eessi-${tag}: {spec: specs/eessi-${tag}.yaml}`,
    `  dev-${tag}: {spec: specs/dev-${tag}.yaml}`,
  );
}
const configFor = (state: string) => {
  const file = join(work, `${state}.yaml`);
  writeFileSync(
    file,
    `state: ${state}\nlayers:\n${layers.join("\n")}\ntargets:\n  production: {to: "local:repo", policy: {approvals: 0}}\nadvisories:\n  glsa: {dir: ${values.glsa}}\n  debianSecurity: {index: index}\n  gentooGit: {repository: gentoo}\n`,
  );
  return file;
};

const watch = (config: string) =>
  measure(["node", compatBin, "watch", "--once", "--config", config, "--json"]);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

console.log(
  `18 layers in ${repo}: 9 gentoo (~1,000 packages, ${values.glsa}), 9 debian (150 packages); gentoo.git of 601 commits`,
);
console.log(
  `load average before: ${loadavg()
    .map((x) => x.toFixed(2))
    .join(" ")}`,
);
const cold = watch(configFor("cold"));
console.log(
  `compat watch --once, cold (new store, no cache): ${cold.seconds.toFixed(2)} s, peak RSS ${cold.peakRssMiB.toFixed(0)} MiB`,
);
const warmConfig = configFor("warm");
watch(warmConfig);
const warm = Array.from({ length: runs }, () => watch(warmConfig));
const warmS = median(warm.map((m) => m.seconds));
const warmRss = Math.max(...warm.map((m) => m.peakRssMiB));
console.log(
  `compat watch --once, warm (median of ${runs}): ${warmS.toFixed(2)} s, peak RSS ${warmRss.toFixed(0)} MiB`,
);

// the peer: one compat audit process per layer, same data, warm cache
const cache = join(work, "audit-cache");
cpSync(join(work, "warm", "cache"), cache, { recursive: true });
/** GNU time over a command whose exit 1 means "found something" (compat audit). */
function measureAudit(args: string[]): { seconds: number; rss: number } {
  const r = spawnSync(
    "/usr/bin/time",
    ["-f", "%e %M", "node", compatBin, "audit", ...args, "--cache-dir", cache, "--json"],
    {
      encoding: "utf8",
      maxBuffer: 1 << 26,
    },
  );
  if (r.status !== 0 && r.status !== 1)
    throw new Error(`compat audit ${args.join(" ")} failed (${r.status}):\n${r.stderr.slice(-2000)}`);
  const [seconds, kib] = (r.stderr.trim().split("\n").pop() ?? "").split(" ").map(Number);
  return { seconds: seconds!, rss: kib! / 1024 };
}
const peer = { seconds: 0, rss: 0 };
for (const version of VERSIONS)
  for (const arch of ARCHES)
    for (const args of [
      [
        join(repo, "versions", version, "compat/linux", arch),
        "--glsa",
        values.glsa!,
        "--gentoo-git",
        gentoo,
        "--gentoo-commit",
        pinned,
      ],
      [join(repo, "versions", `${version}-deb`, "compat/linux", arch), "--debian-index", index],
    ]) {
      const m = measureAudit(args);
      peer.seconds += m.seconds;
      peer.rss = Math.max(peer.rss, m.rss);
    }
console.log(
  `peer: 18 × compat audit (one process per layer): ${peer.seconds.toFixed(2)} s in all, peak RSS ${peer.rss.toFixed(0)} MiB`,
);
console.log(
  `\nwatch --once over 18 layers, warm: ${warmS.toFixed(2)} s (target ≤ 5 s: ${warmS <= 5 ? "met" : "NOT met"}), cold ${cold.seconds.toFixed(2)} s; peak RSS ${Math.max(cold.peakRssMiB, warmRss).toFixed(0)} MiB (target ≤ 300 MB: ${Math.max(cold.peakRssMiB, warmRss) <= 286 ? "met" : "NOT met"}); ${(peer.seconds / warmS).toFixed(1)}× faster than one audit per layer`,
);
if (!values.keep) rmSync(work, { recursive: true, force: true });
else console.log(`kept ${work}`);
