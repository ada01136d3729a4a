/**
 * The impact check on a real software layer built on the development layer (test/helpers/
 * software-layer.ts: programs compiled against the layer's glibc, libz, libcrypto and libstdc++, a
 * library of the stack used through $ORIGIN, zstd and pigz from Debian relocated onto the layer),
 * against candidates made from the layer: (a) libz removed, (b) libz replaced by bullseye's 1.2.11
 * (a real older package, lacking ZLIB_1.2.12), (c) a change nothing of the software uses, (d) a
 * change only the stack's tests see. Every ABI verdict is compared with what the real loader does
 * when it runs each program through the layer with LD_BIND_NOW=1.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, statSync, unlinkSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { packLayer } from "../../src/artifacts/pack.js";
import { generateKeyPair } from "../../src/artifacts/sign.js";
import { runInLayer } from "../../src/exec/sandbox.js";
import { type ImpactLayer, type ImpactReport, runImpact } from "../../src/impact/index.js";
import { softwareTree } from "../../src/impact/software.js";
import { loadTestSuite } from "../../src/impact/tests.js";
import { layerTopDir } from "../../src/layer/id.js";
import { loadSiteConfig, parseSiteConfig } from "../../src/site/load.js";
import { requireCandidate } from "../../src/store/candidates.js";
import {
  createCandidate,
  finishGate,
  gatesDigest,
  listGates,
  registerLayer,
  startGate,
} from "../../src/store/index.js";
import { openStore } from "../../src/store/open.js";
import { candidateContext } from "../../src/update/candidate-context.js";
import { impactGate } from "../../src/update/gates/impact.js";
import { openSiteLayerArch } from "../../src/update/site-layer.js";
import { compat } from "../helpers/cli.js";
import { debianPackage } from "../helpers/debian-packages.js";
import { type DevLayer, devLayer } from "../helpers/dev-layer.js";
import { tempDir } from "../helpers/prefix-layout.js";
import { type SoftwareLayer, softwareLayer } from "../helpers/software-layer.js";
import { seedCandidate } from "../helpers/update-site.js";

const isX86 = process.arch === "x64";
const LIB = "usr/lib/x86_64-linux-gnu";

let dev: DevLayer;
let sw: SoftwareLayer;
let scratch: { dir: string; cleanup: () => void };
const candidates: Record<"a" | "b" | "c" | "d", string> = { a: "", b: "", c: "", d: "" };

/** A copy of the layer sharing its files (hard links): a change replaces a file, never edits one. */
function copyLayer(name: string): string {
  const dir = join(scratch.dir, name);
  execFileSync("cp", ["-al", dev.localPrefix, dir]);
  return dir;
}

function layerOf(local: string, origin: string): ImpactLayer {
  return { prefix: dev.prefix, local, arch: "x86_64", flavor: "debian", origin };
}

const software = () => [softwareTree(sw.local, sw.at)];
/** compat impact of a candidate tree against the published dev layer, over the test's software tree. */
const impactOnPublished = (
  candidate: string,
  label: string,
  more: Partial<Parameters<typeof runImpact>[0]> = {},
) =>
  runImpact({
    candidate: layerOf(candidate, label),
    published: layerOf(dev.localPrefix, "published"),
    software: software(),
    ...more,
  });
const objectPath = (program: string) => `${sw.at}/${sw.programs[program]}`;

/** Run every program of the software layer through a layer with LD_BIND_NOW=1: does the loader start it? */
async function loaderVerdicts(local: string): Promise<Map<string, { ok: boolean; stderr: string }>> {
  const out = new Map<string, { ok: boolean; stderr: string }>();
  for (const [name, rel] of Object.entries(sw.programs)) {
    const r = await runInLayer(
      { prefixDir: local, prefix: dev.prefix },
      [`${sw.at}/${rel}`, ...(sw.args[name] ?? [])],
      {
        readOnlyLayer: true,
        network: false,
        cwd: "/",
        binds: [{ src: sw.local, dest: sw.at, readOnly: true }],
        env: { PATH: "/usr/bin:/bin", LD_BIND_NOW: "1" },
        okStatuses: Array.from({ length: 256 }, (_, i) => i),
      },
    );
    out.set(objectPath(name), { ok: r.status === 0, stderr: r.stderr });
  }
  return out;
}

/** Objects the report says cannot start on the candidate (and on the published layer). */
function brokenObjects(report: ImpactReport, side: "candidate" | "published"): Set<string> {
  const statuses =
    side === "candidate" ? ["regression", "broken-before", "broken"] : ["broken-before", "fixed"];
  return new Set(report.abi.findings.filter((f) => statuses.includes(f.status)).map((f) => f.object));
}

async function expectLoaderAgrees(report: ImpactReport, local: string, side: "candidate" | "published") {
  const real = await loaderVerdicts(local);
  const broken = brokenObjects(report, side);
  for (const [path, r] of real)
    expect({ path, startsWithBindNow: r.ok, stderr: r.ok ? "" : r.stderr.trim() }).toEqual({
      path,
      startsWithBindNow: !broken.has(path),
      stderr: broken.has(path) ? r.stderr.trim() : "",
    });
  return real;
}

describe.runIf(isX86)("compat impact on a software layer built on the dev layer", () => {
  beforeAll(async () => {
    dev = await devLayer();
    sw = await softwareLayer(dev);
    scratch = tempDir("compat-impact-");
    // (a) a library the programs need is gone
    candidates.a = copyLayer("a");
    for (const f of ["libz.so.1", "libz.so.1.2.13"]) unlinkSync(join(candidates.a, LIB, f));
    // (b) libz replaced by Debian bullseye's 1.2.11, relocated into the layer as a build would
    candidates.b = copyLayer("b");
    const old = join(scratch.dir, "zlib-bullseye");
    execFileSync("dpkg-deb", ["-x", debianPackage("zlib1g", "bullseye"), old]);
    for (const f of ["libz.so.1", "libz.so.1.2.13"]) unlinkSync(join(candidates.b, LIB, f));
    execFileSync("cp", [join(old, "lib/x86_64-linux-gnu/libz.so.1.2.11"), join(candidates.b, LIB)]);
    execFileSync("ln", ["-s", "libz.so.1.2.11", join(candidates.b, LIB, "libz.so.1")]);
    execFileSync("patchelf", [
      "--force-rpath",
      "--set-rpath",
      `${dev.prefix}/${LIB}:${dev.prefix}/usr/lib`,
      join(candidates.b, LIB, "libz.so.1.2.11"),
    ]);
    // (c) a library no program of the stack uses is removed, and a file is added
    candidates.c = copyLayer("c");
    unlinkSync(join(candidates.c, LIB, "libtcl8.6.so"));
    writeFileSync(join(candidates.c, "etc/compat-note"), "a change nothing uses\n");
    // (d) no library changes; the os-release the stack's tests read does
    candidates.d = copyLayer("d");
    const osRelease = join(candidates.d, "usr/lib/os-release");
    const text = readFileSync(osRelease, "utf8").replace(/^ID=.*$/m, "ID=something-else");
    unlinkSync(osRelease);
    writeFileSync(osRelease, text);
  }, 900_000);
  afterAll(() => scratch?.cleanup());

  it("(a) a removed library fails, naming each object, the soname and the package it came from; the loader agrees", async () => {
    const report = await impactOnPublished(candidates.a, "candidate a");
    expect(report.summary.verdict).toBe("fail");
    const missing = report.abi.findings.filter((f) => f.status === "regression" && f.what === "libz.so.1");
    expect(new Set(missing.map((f) => f.object))).toEqual(
      new Set(
        ["zcrc", "zver", "usestack", "zstd", "pigz"].map(objectPath).concat(`${sw.at}/lib/libstack.so.1`),
      ),
    );
    const zcrc = missing.find((f) => f.object === objectPath("zcrc"))!;
    expect(zcrc).toMatchObject({ kind: "needed", by: objectPath("zcrc"), status: "regression" });
    expect(zcrc.message).toContain("needs libz.so.1: not found");
    expect(zcrc.before).toMatchObject({
      path: `${dev.prefix}/${LIB}/libz.so.1`,
      package: { name: "zlib1g:amd64" },
    });
    // usestack breaks through the stack's own library, which is what needs libz
    expect(missing.find((f) => f.object === objectPath("usestack"))!.by).toBe(`${sw.at}/lib/libstack.so.1`);
    // nothing else regressed
    expect(report.abi.findings.filter((f) => f.status === "regression" && f.what !== "libz.so.1")).toEqual(
      [],
    );
    const real = await expectLoaderAgrees(report, candidates.a, "candidate");
    expect(real.get(objectPath("zcrc"))!.stderr).toContain("libz.so.1: cannot open shared object file");
  });

  it("(b) an older library lacking a symbol version fails, naming the object and symbol@version; the loader agrees", async () => {
    const report = await impactOnPublished(candidates.b, "candidate b");
    expect(report.summary.verdict).toBe("fail");
    const regressions = report.abi.findings.filter((f) => f.status === "regression");
    expect(regressions.map((f) => ({ object: f.object, kind: f.kind, what: f.what }))).toEqual([
      { object: objectPath("zcrc"), kind: "version", what: "ZLIB_1.2.12 (libz.so.1)" },
    ]);
    expect(regressions[0]!.before).toMatchObject({
      file: `${dev.prefix}/${LIB}/libz.so.1.2.13`,
      package: { name: "zlib1g:amd64" },
    });
    expect(regressions[0]!.now).toMatchObject({ file: `${dev.prefix}/${LIB}/libz.so.1.2.11` });
    const real = await expectLoaderAgrees(report, candidates.b, "candidate");
    expect(real.get(objectPath("zcrc"))!.stderr).toContain("version `ZLIB_1.2.12' not found");
  });

  it("(c) a change nothing uses passes, and the published layer itself runs everything", async () => {
    const report = await impactOnPublished(candidates.c, "candidate c");
    expect(report.abi.findings).toEqual([]);
    expect(report.summary).toMatchObject({ verdict: "pass", objects: 11, regressions: 0 });
    await expectLoaderAgrees(report, candidates.c, "candidate");
    await expectLoaderAgrees(report, dev.localPrefix, "published");
  });

  it("the cache: verdicts are reused by content, never by file state (a library rewritten in place with the same size and mtime is judged anew)", async () => {
    const cacheDir = join(scratch.dir, "verdict-cache");
    const run = (local: string) => impactOnPublished(local, "candidate", { cacheDir });
    const cold = await run(candidates.b);
    const warm = await run(candidates.b);
    expect(cold.abi.verdicts.computed).toBeGreaterThan(0);
    // the published layer's side and every unchanged object: judged once, in the first run
    expect(warm.abi.verdicts).toEqual({
      reused: cold.abi.verdicts.reused + cold.abi.verdicts.computed,
      computed: 0,
    });
    expect(warm.abi.findings).toEqual(cold.abi.findings);
    // each file is opened once, cold or warm: the read that makes its record keeps the tables that
    // its lookups and undefined symbols need (warm, they are not even asked for)
    expect(warm.abi.reads).toBe(cold.abi.reads);

    // a candidate whose libz is a file of its own (not a hard link of the dev layer's)
    const e = copyLayer("e");
    const libz = join(e, LIB, "libz.so.1.2.13");
    const bytes = readFileSync(libz);
    unlinkSync(libz);
    writeFileSync(libz, bytes);
    const mtime = 1_700_000_000; // whole seconds: set again exactly after the rewrite
    utimesSync(libz, mtime, mtime);
    const before = await run(e);
    expect(before.summary).toMatchObject({ verdict: "pass", regressions: 0 });
    // same inode, same size, same mtime; other bytes: libz now defines ZLIB_1.2.99 instead of ZLIB_1.2.12
    const st = statSync(libz);
    const at = bytes.indexOf("ZLIB_1.2.12\0");
    expect(at).toBeGreaterThan(0);
    const changed = Buffer.from(bytes);
    changed.write("ZLIB_1.2.99", at, "latin1");
    writeFileSync(libz, changed);
    utimesSync(libz, mtime, mtime);
    const now = statSync(libz);
    expect([now.ino, now.size, now.mtimeMs]).toEqual([st.ino, st.size, st.mtimeMs]);
    const after = await run(e);
    expect(
      after.abi.findings.filter((f) => f.status === "regression").map((f) => [f.object, f.what]),
    ).toEqual([[objectPath("zcrc"), "ZLIB_1.2.12 (libz.so.1)"]]);
    const real = await expectLoaderAgrees(after, e, "candidate");
    expect(real.get(objectPath("zcrc"))!.stderr).toContain("version `ZLIB_1.2.12' not found");
  });

  it("(d) a test that exits 1 on the candidate and 0 on the published layer is a regression; the others pass on both", async () => {
    const file = join(scratch.dir, "tests.yaml");
    writeFileSync(
      file,
      [
        "tests:",
        "  - name: hello",
        `    command: ${objectPath("hello")}`,
        "    output: ^hello from the software layer$",
        "  - name: zlib-crc",
        `    command: ${objectPath("zcrc")}`,
        "  - name: stack-library",
        `    command: ${objectPath("usestack")}`,
        "    output: '^1\\d\\d$'",
        "  - name: os-release",
        '    command: grep -q "^ID=debian$" "$EPREFIX/etc/os-release"',
        "    timeout: 30",
      ].join("\n"),
    );
    const report = await impactOnPublished(candidates.d, "candidate d", { suite: await loadTestSuite(file) });
    expect(report.abi.findings).toEqual([]);
    expect(report.tests!.map((t) => [t.name, t.verdict])).toEqual([
      ["hello", "pass"],
      ["zlib-crc", "pass"],
      ["stack-library", "pass"],
      ["os-release", "regression"],
    ]);
    const osTest = report.tests!.find((t) => t.name === "os-release")!;
    expect(osTest.published).toMatchObject({ status: "pass", exitStatus: 0 });
    expect(osTest.candidate).toMatchObject({
      status: "fail",
      exitStatus: 1,
      reason: "exit status 1, expected 0",
    });
    expect(report.summary).toMatchObject({ verdict: "fail", regressions: 0, testRegressions: 1 });

    // the same tests on candidate (b): the program whose library lost a version fails its test too
    const b = await impactOnPublished(candidates.b, "candidate b", { suite: await loadTestSuite(file) });
    expect(b.tests!.filter((t) => t.verdict !== "pass").map((t) => [t.name, t.verdict])).toEqual([
      ["zlib-crc", "regression"],
    ]);
  });

  it("the CLI: text, --json and --junit; exit 3 on a regression, 0 on a candidate that breaks nothing", () => {
    const junit = join(scratch.dir, "impact.junit.xml");
    const soft = `${sw.local}=${sw.at}`;
    const bad = compat([
      "impact",
      candidates.b,
      "--against",
      dev.localPrefix,
      "--software",
      soft,
      "--junit",
      junit,
      "--cache",
      join(scratch.dir, "cli-cache"),
    ]);
    expect(bad.status, bad.stderr).toBe(3);
    expect(bad.stdout).toContain(`REGRESSION  ${objectPath("zcrc")} needs version ZLIB_1.2.12 of libz.so.1`);
    expect(bad.stdout).toMatch(/before: .*libz\.so\.1 → .*libz\.so\.1\.2\.13 \(zlib1g:amd64 1:1\.2\.13/);
    expect(bad.stderr).toContain("the candidate breaks the software: 1 ABI regression");
    const xml = readFileSync(junit, "utf8");
    expect(xml).toContain('failures="1"');
    expect(xml).toContain("ZLIB_1.2.12");
    execFileSync("xmllint", ["--noout", junit]);

    const good = compat([
      "impact",
      candidates.c,
      "--against",
      dev.localPrefix,
      "--software",
      soft,
      "--json",
      "--cache",
      join(scratch.dir, "cli-cache"),
    ]);
    expect(good.status, good.stderr).toBe(0);
    const json = JSON.parse(good.stdout) as ImpactReport;
    expect(json.summary).toMatchObject({ verdict: "pass", objects: 11, regressions: 0 });
  });

  it("as the impact gate: the layer's software and tests from the site config, the published side unpacked from the base artifact; (a), (b) and (d) fail, (c) passes, each report stored with its gate", async () => {
    const tests = join(scratch.dir, "gate-tests.yaml");
    writeFileSync(
      tests,
      `tests:\n  - name: zlib-crc\n    command: ${objectPath("zcrc")}\n  - name: os-release\n    command: grep -q "^ID=debian$" "$EPREFIX/etc/os-release"\n`,
    );
    const configFile = join(scratch.dir, "compat.yaml");
    const text = (impact: boolean) =>
      [
        "layers:",
        "  dev:",
        `    spec: ${dev.specFile}`,
        ...(impact
          ? [
              "    impact:",
              "      software:",
              `        - path: ${sw.local}`,
              `          at: ${sw.at}`,
              "      tests: [gate-tests.yaml]",
            ]
          : []),
      ].join("\n");
    const site = parseSiteConfig(text(true), configFile);
    expect(site.layers.dev!.impact).toEqual({ software: [{ path: sw.local, at: sw.at }], tests: [tests] });
    const layer = await openSiteLayerArch(site, "dev", "x86_64");
    expect(impactGate.applies(site.layers.dev!)).toBe(true);
    // the published layer as the update loop has it: the full artifact the target holds
    const packed = await packLayer({
      prefix: dev.localPrefix,
      stack: dev.layer.stack,
      version: dev.layer.version,
      os: dev.layer.os,
      arch: dev.layer.arch,
      outDir: join(scratch.dir, "artifacts"),
      epoch: 1_750_000_000,
    });
    const base = { tree: { path: packed.artifact, sha256: packed.manifest.sha256 } };
    const store = await openStore({ backend: "sqlite", path: join(scratch.dir, "gates.db") });
    try {
      await registerLayer(
        store,
        {
          name: "dev",
          specPath: dev.specFile,
          specSha256: "0".repeat(64),
          flavor: "debian",
          stack: "dev",
          version: "2025.06",
          arches: ["x86_64"],
        },
        "test",
      );
      const states: Record<string, string> = {};
      const digests = new Set<string>();
      const notes: string[] = [];
      for (const name of ["a", "b", "c", "d"] as const) {
        const candidate = await createCandidate(store, {
          layer: "dev",
          arch: "x86_64",
          target: "staging",
          requestedBy: "test",
        });
        await startGate(store, candidate.id, impactGate.id, { actor: "test" });
        const workDir = join(scratch.dir, `gate-${name}`);
        mkdirSync(workDir);
        const outcome = await impactGate.run({
          site,
          candidate,
          layer,
          tree: { root: scratch.dir, prefixDir: candidates[name] },
          base,
          workDir,
          note: (m) => notes.push(m),
        });
        await finishGate(store, candidate.id, impactGate.id, {
          state: outcome.state,
          report: { ...outcome.report, summary: outcome.summary },
          actor: "test",
        });
        const [gate] = await listGates(store, candidate.id);
        states[name] = `${gate!.state}: ${outcome.summary}`;
        digests.add(gatesDigest([gate!]));
        const stored = (gate!.report as unknown as { impact: ImpactReport }).impact;
        expect(stored.summary.verdict).toBe(outcome.state === "passed" ? "pass" : "fail");
        expect(stored.published?.local).toBe(join(workDir, "published/versions", layerTopDir(dev.layer)));
      }
      expect(states).toEqual({
        a: "failed: 11 objects: 6 ABI regressions; 2 tests: 1 failing",
        b: "failed: 11 objects: 1 ABI regression; 2 tests: 1 failing",
        c: "passed: 11 objects: 0 ABI regressions; 2 tests: 0 failing",
        d: "failed: 11 objects: 0 ABI regressions; 2 tests: 1 failing",
      });
      expect(digests.size).toBe(4);
      expect(notes.some((n) => n.startsWith("unpacking the published layer"))).toBe(true);
      // the published side is judged once: its verdicts are in the site's cache after the first candidate
      expect(
        readFileSync(join(site.stateDir, "cache/impact/impact-cache.json"), "utf8").length,
      ).toBeGreaterThan(0);
    } finally {
      await store.close();
    }
    // a layer without an impact section has no software the gate could check
    const bare = parseSiteConfig(text(false), configFile);
    expect(impactGate.applies(bare.layers.dev!)).toBe(false);
  }, 900_000);

  it("through the update loop: compat gate --only impact on candidates (a), (b), (c) over the published dev layer; (a) and (b) fail and their approval is refused, (c) is ready and approved", async () => {
    const dir = join(scratch.dir, "update-loop");
    mkdirSync(join(dir, "staging"), { recursive: true });
    mkdirSync(join(dir, "keys"), { recursive: true });
    const keys = {
      alice: await generateKeyPair(join(dir, "keys/alice")),
      bob: await generateKeyPair(join(dir, "keys/bob")),
      mallory: await generateKeyPair(join(dir, "keys/mallory")),
    };
    const configFile = join(dir, "compat.yaml");
    writeFileSync(
      configFile,
      [
        "state: state",
        `store: sqlite:${join(dir, "compat.db")}`,
        "layers:",
        "  dev:",
        `    spec: ${JSON.stringify(dev.specFile)}`,
        "    arches: [x86_64]",
        "    impact:",
        `      software: [{path: ${JSON.stringify(sw.local)}, at: ${JSON.stringify(sw.at)}}]`,
        "targets:",
        "  staging:",
        "    to: local:staging",
        "    policy: {approvals: 1, approvers: [alice]}",
        "approvers:",
        "  alice: {key: keys/alice.pub}",
      ].join("\n"),
    );
    const site = await loadSiteConfig(configFile);
    const t = {
      dir,
      configFile,
      site,
      keys,
      staging: join(dir, "staging"),
      production: join(dir, "staging"),
    };
    // the published layer: the dev layer's full artifact (what staging holds when the update ran)
    const packed = await packLayer({
      prefix: dev.localPrefix,
      stack: dev.layer.stack,
      version: dev.layer.version,
      os: dev.layer.os,
      arch: dev.layer.arch,
      outDir: join(dir, "artifacts"),
      epoch: 1_750_000_000,
    });
    const store = await openStore({ backend: "sqlite", path: join(dir, "compat.db") });
    const verdicts: Record<string, unknown> = {};
    try {
      for (const name of ["a", "b", "c"] as const) {
        // a candidate as an update leaves it (artifacts recorded, every gate passed), its tree the candidate's
        const c = await seedCandidate(t, store, {
          full: packed.artifact,
          baseSha256: packed.manifest.sha256,
        });
        const cc = await candidateContext(site, store, c.id);
        mkdirSync(join(cc.tree.prefixDir, ".."), { recursive: true });
        execFileSync("cp", ["-al", candidates[name], cc.tree.prefixDir]);
        // --json: the exit code is the verdict for machines too
        const gated = compat(["gate", String(c.id), "--only", "impact", "--config", configFile, "--json"]);
        expect(JSON.parse(gated.stdout).candidate.id).toBe(c.id);
        const out = {
          candidate: await requireCandidate(store, c.id),
          gates: (await listGates(store, c.id)) as unknown as {
            gate: string;
            state: string;
            report: { summary: string; impact: ImpactReport };
          }[],
        };
        const impact = out.gates.find((g) => g.gate === "impact")!;
        const approved = compat([
          "approve",
          String(c.id),
          "--key",
          keys.alice.privateKey,
          "--config",
          configFile,
        ]);
        verdicts[name] = {
          exit: gated.status,
          candidate: out.candidate.state,
          impact: `${impact.state}: ${impact.report.summary}`,
          approve: approved.status,
        };
        if (name !== "c") expect(approved.stderr).toMatch(/failed|impact/);
        expect(impact.report.impact.published?.origin).toBe(`published layer ${packed.manifest.sha256}`);
      }
    } finally {
      await store.close();
    }
    expect(verdicts).toEqual({
      a: {
        exit: 3,
        candidate: "failed",
        impact: "failed: 11 objects: 6 ABI regressions; 0 tests: 0 failing",
        approve: 3,
      },
      b: {
        exit: 3,
        candidate: "failed",
        impact: "failed: 11 objects: 1 ABI regression; 0 tests: 0 failing",
        approve: 3,
      },
      c: {
        exit: 0,
        candidate: "ready",
        impact: "passed: 11 objects: 0 ABI regressions; 0 tests: 0 failing",
        approve: 0,
      },
    });
  }, 900_000);

  describe("bad input", () => {
    it("a software dir that does not exist, is a file, or a symlink loop: exit 2 with a clear message", () => {
      const loop = join(scratch.dir, "loop");
      execFileSync("ln", ["-sfn", loop, loop]);
      for (const [arg, message] of [
        [join(scratch.dir, "nowhere"), "no such directory"],
        [join(candidates.c, "etc/compat-note"), "not a directory"],
        [loop, "a symlink loop"],
      ] as const) {
        const r = compat(["impact", candidates.c, "--software", arg]);
        expect(r.status, r.stderr).toBe(2);
        expect(r.stderr).toContain(message);
      }
    });

    it("a tree with no ELF object, truncated and non-ELF *.so files, symlink loops and another arch's objects: zero checked is a failure", () => {
      const t = join(scratch.dir, "junk-software");
      mkdirSync(join(t, "lib"), { recursive: true });
      writeFileSync(join(t, "lib/libnot.so"), "INPUT(-lfoo)\n");
      const libc = readFileSync(join(dev.localPrefix, LIB, "libc.so.6"));
      writeFileSync(join(t, "lib/libcut.so.1"), libc.subarray(0, 300));
      // an aarch64 object: the ELF header of this arch with e_machine changed
      const foreign = Buffer.from(readFileSync(join(sw.local, sw.programs.hello!)));
      foreign.writeUInt16LE(183, 18);
      writeFileSync(join(t, "lib/libarm.so"), foreign);
      execFileSync("ln", ["-s", "loop-b", join(t, "lib/loop-a")]);
      execFileSync("ln", ["-s", "loop-a", join(t, "lib/loop-b")]);
      const r = compat(["impact", candidates.c, "--against", dev.localPrefix, "--software", t, "--no-cache"]);
      expect(r.status, r.stderr).toBe(3);
      expect(r.stderr).toContain("no dynamically linked ELF object under");
      expect(r.stdout).toContain("lib/libcut.so.1: starts like ELF but is truncated or corrupt");
      expect(r.stdout).toContain("lib/libarm.so: ELF64 aarch64: not for this layer's x86_64");
      expect(r.stdout).toContain("lib/libnot.so");
    });

    it("a program whose RPATH leads into a symlink loop is reported, not a hang", async () => {
      const t = join(scratch.dir, "loop-software");
      mkdirSync(join(t, "bin"), { recursive: true });
      execFileSync("cp", [join(sw.local, sw.programs.zver!), join(t, "bin/zver")]);
      execFileSync("ln", ["-s", "loop", join(t, "loop")]);
      execFileSync("patchelf", ["--remove-rpath", join(t, "bin/zver")]);
      execFileSync("patchelf", [
        "--force-rpath",
        "--set-rpath",
        `${t}/loop:${dev.prefix}/${LIB}`,
        join(t, "bin/zver"),
      ]);
      const report = await runImpact({ candidate: layerOf(candidates.c, "c"), software: [softwareTree(t)] });
      expect(report.summary).toMatchObject({ objects: 1, verdict: "pass" });
    });

    it("a hostile software tree (corrupt ELF files, a FIFO as a library, links to devices and out of the tree) is reported through the CLI, never a crash or a hang", () => {
      const t = join(scratch.dir, "hostile-software");
      mkdirSync(join(t, "bin"), { recursive: true });
      mkdirSync(join(t, "lib"), { recursive: true });
      // a program that needs a library which is a FIFO in its RPATH dir
      execFileSync("cp", [join(sw.local, sw.programs.zver!), join(t, "bin/zver")]);
      execFileSync("patchelf", ["--add-needed", "libfifo.so.1", join(t, "bin/zver")]);
      execFileSync("patchelf", [
        "--force-rpath",
        "--set-rpath",
        `${t}/lib:${dev.prefix}/${LIB}`,
        join(t, "bin/zver"),
      ]);
      execFileSync("mkfifo", [join(t, "lib/libfifo.so.1")]);
      // an ELF object whose string table is outside its segments, and one cut short
      const lib = readFileSync(join(dev.localPrefix, LIB, "libz.so.1.2.13"));
      const bad = Buffer.from(lib);
      const dynamicAt = (() => {
        const phoff = Number(bad.readBigUInt64LE(32));
        for (let i = 0; i < bad.readUInt16LE(56); i++) {
          const at = phoff + i * bad.readUInt16LE(54);
          if (bad.readUInt32LE(at) === 2) return Number(bad.readBigUInt64LE(at + 8));
        }
        throw new Error("no PT_DYNAMIC");
      })();
      for (let o = dynamicAt; bad.readBigInt64LE(o) !== 0n; o += 16)
        if (bad.readBigInt64LE(o) === 5n) bad.writeBigUInt64LE(1n << 50n, o + 8);
      writeFileSync(join(t, "lib/libbadstr.so.1"), bad);
      writeFileSync(join(t, "lib/libcut.so.1"), lib.subarray(0, 5000));
      execFileSync("ln", ["-s", "/dev/zero", join(t, "lib/libzero.so.1")]);
      execFileSync("ln", ["-s", "../../../../../..", join(t, "lib/up")]);
      execFileSync("ln", ["-s", "/etc/passwd", join(t, "lib/libpasswd.so")]);
      const r = compat(["impact", candidates.c, "--software", t, "--no-cache", "--json"]);
      expect(r.status, r.stderr).toBe(3);
      const report = JSON.parse(r.stdout) as ImpactReport;
      expect(report.summary).toMatchObject({ objects: 1, verdict: "fail" });
      expect(report.abi.findings.map((f) => [f.status, f.kind, f.what])).toEqual([
        ["broken", "needed", "libfifo.so.1"],
      ]);
      expect(report.abi.skipped).toEqual([
        { path: `${t}/lib/libbadstr.so.1`, why: "starts like ELF but is truncated or corrupt" },
        { path: `${t}/lib/libcut.so.1`, why: "starts like ELF but is truncated or corrupt" },
      ]);
    });

    it("a candidate whose dpkg file lists hold a FIFO and a huge file still gets its regressions named", async () => {
      // (b)'s older libz: the regression names the package on both layers, so both layers' lists are read
      const f = join(scratch.dir, "fifo-lists");
      execFileSync("cp", ["-al", candidates.b, f]);
      execFileSync("mkfifo", [join(f, "var/lib/dpkg/info/evil:amd64.list")]);
      writeFileSync(join(f, "var/lib/dpkg/info/huge.list"), "");
      execFileSync("truncate", ["-s", String(100 << 20), join(f, "var/lib/dpkg/info/huge.list")]);
      const report = await impactOnPublished(f, "f");
      const zcrc = report.abi.findings.find(
        (x) => x.object === objectPath("zcrc") && x.status === "regression",
      );
      expect(zcrc).toMatchObject({
        what: "ZLIB_1.2.12 (libz.so.1)",
        before: { package: { name: "zlib1g:amd64" } },
        now: { file: `${dev.prefix}/${LIB}/libz.so.1.2.11` },
      });
    });

    it("an output regex that backtracks for ever fails its test after 5 s; a ReFrame report that is a FIFO or a link is not read", async () => {
      const file = join(scratch.dir, "hostile-tests.yaml");
      writeFileSync(
        file,
        [
          "tests:",
          "  - name: backtracks",
          `    command: printf '%s!' ${"a".repeat(60)}`,
          "    output: '^(a+)+$'",
          "reframe:",
          `    command: sh -c 'mkfifo "\${1#--report-file=}"' sh`,
          "    timeout: 60",
        ].join("\n"),
      );
      const started = Date.now();
      const report = await runImpact({
        candidate: layerOf(candidates.c, "c"),
        software: software(),
        suite: await loadTestSuite(file),
      });
      expect(Date.now() - started).toBeLessThan(90_000);
      const byName = Object.fromEntries(report.tests!.map((t) => [t.name, t.candidate]));
      expect(byName.backtracks).toMatchObject({ status: "fail" });
      expect(byName.backtracks!.reason).toContain("ran longer than 5 s on the output");
      expect(byName.reframe).toMatchObject({ status: "fail" });
      expect(byName.reframe!.reason).toContain("not a regular file");

      writeFileSync(file, `reframe:\n  command: sh -c 'ln -s /etc/passwd "\${1#--report-file=}"' sh\n`);
      const linked = await runImpact({
        candidate: layerOf(candidates.c, "c"),
        software: software(),
        suite: await loadTestSuite(file),
      });
      expect(linked.tests).toMatchObject([{ name: "reframe", candidate: { status: "fail" } }]);
      expect(linked.tests![0]!.candidate.reason).toContain("ELOOP");
    });

    it("a test that hangs is killed at its timeout and reported", async () => {
      const file = join(scratch.dir, "hang.yaml");
      writeFileSync(file, "tests:\n  - name: hangs\n    command: sleep 600\n    timeout: 2\n");
      const started = Date.now();
      const report = await runImpact({
        candidate: layerOf(candidates.c, "c"),
        software: software(),
        suite: await loadTestSuite(file),
      });
      expect(Date.now() - started).toBeLessThan(60_000);
      expect(report.tests).toMatchObject([
        {
          name: "hangs",
          verdict: "fail",
          candidate: { status: "timeout", reason: "killed after its timeout of 2 s" },
        },
      ]);
      expect(report.summary.verdict).toBe("fail");
    });

    it("a tests file with mistakes names each with its line", () => {
      const file = join(scratch.dir, "bad-tests.yaml");
      writeFileSync(
        file,
        "tests:\n  - name: x\n    comand: true\n  - name: y\n    command: true\n    output: '('\n",
      );
      const r = compat(["impact", candidates.c, "--software", `${sw.local}=${sw.at}`, "--tests", file]);
      expect(r.status).toBe(2);
      expect(r.stderr).toContain('bad-tests.yaml:3:5 tests[0].comand: unknown key, did you mean "command"?');
      expect(r.stderr).toContain('bad-tests.yaml:6:13 tests[1].output: "(": not a regular expression');
      expect(r.stderr).toContain("bad-tests.yaml:2:5 tests[0].command: missing");
      // a timeout Node's timers cannot wait (past 2^31 ms they fire at once)
      const t = compat([
        "impact",
        candidates.c,
        "--software",
        `${sw.local}=${sw.at}`,
        "--reframe",
        "reframe -r",
        "--reframe-timeout",
        "1e12",
      ]);
      expect(t.status, t.stderr).toBe(2);
      expect(t.stderr).toContain("--reframe-timeout 1e12: not a number of seconds between 0 and 604800");
    });

    it("a software tree overlapping the layer is refused", () => {
      const r = compat(["impact", candidates.c, "--software", `${sw.local}=${dev.prefix}/usr`]);
      expect(r.status).toBe(2);
      expect(r.stderr).toContain("overlaps the layer's prefix");
    });
  });
});
