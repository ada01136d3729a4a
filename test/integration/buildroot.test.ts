/**
 * Build roots for real (issue 18): made by mmdebstrap from the host's apt sources (as the debian
 * layer tests get their packages), through the built CLI as a user runs it. One x86_64 root (minbase,
 * the debian flavor's default) serves every x86_64 test: two concurrent CLI processes make it once
 * over a killed creation's leftovers, a third reuses it; damaged copies of it are found out; prune
 * keeps it while this process uses it. A riscv64 root is made through qemu-user and run.
 */
import { spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBuildRoot, mmdebstrapSettings, releaseBuildRoot } from "../../src/buildroot/ensure.js";
import { requestKey } from "../../src/buildroot/identity.js";
import { buildRootFor } from "../../src/buildroot/spec.js";
import type { BuildRootSpec } from "../../src/buildroot/types.js";
import { debianSources, readHostAptSources } from "../../src/debian/sources.js";
import { emulationFor } from "../../src/exec/emulation.js";
import { parseSpec } from "../../src/spec/load.js";
import { compat, compatAsync } from "../helpers/cli.js";

const SPEC = `# test/integration/buildroot.test.ts
repository: software.example.org
stack: small
version: "2025.06"
arches: [x86_64, riscv64]
flavor: debian
debian:
  suite: {x86_64: bookworm, riscv64: trixie}
  packages: [bash]
`;

const canRun =
  process.getuid?.() === 0 &&
  process.arch === "x64" &&
  ["mmdebstrap", "bwrap"].every((t) => spawnSync(t, ["--version"]).status === 0);

const work = mkdtempSync(join(tmpdir(), "compat-buildroot-"));
const specFile = join(work, "small.yaml");
writeFileSync(specFile, SPEC);
const state = join(work, "state");
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface BuiltJson {
  identity: string;
  dir: string;
  made: boolean;
  packageCount: number;
  packages: Array<{ name: string; version: string; arch: string }>;
}
/** ensureBuildRoot's notes up to the first that matches `until`, where it is stopped (before mmdebstrap). */
async function stoppedAt(spec: BuildRootSpec, stateDir: string, until: RegExp): Promise<string> {
  const stop = new AbortController();
  const notes: string[] = [];
  const note = (m: string) => {
    notes.push(m);
    if (until.test(m)) stop.abort();
  };
  await expect(
    ensureBuildRoot(spec, { arch: "x86_64", stateDir, signal: stop.signal, note }),
  ).rejects.toThrow();
  expect(stop.signal.aborted).toBe(true);
  return notes.join("\n");
}

const built = (stdout: string) => JSON.parse(stdout) as BuiltJson;
const listed = (stateDir: string) => {
  const r = compat(["buildroot", "list", "--json", "--state-dir", stateDir]);
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Array<{
    identity: string;
    state: string;
    problem?: string;
    users: number[];
  }>;
};

describe.skipIf(!canRun)("an x86_64 build root", () => {
  let root: BuiltJson;
  const entry = () => join(root.dir, "..");

  beforeAll(async () => {
    // a creation killed earlier: its tree in tmp/ and its lock, held by a pid that no longer runs
    const spec = buildRootFor(parseSpec(SPEC, specFile).spec, "x86_64");
    const settings = mmdebstrapSettings(spec);
    const key = requestKey({
      arch: "x86_64",
      spec,
      sources: debianSources({ ...settings, suite: spec.suite }, await readHostAptSources()),
    });
    mkdirSync(join(state, "buildroots/tmp", `${key}-999999/root/etc`), { recursive: true });
    writeFileSync(join(state, "buildroots/tmp", `${key}-999999/root/etc/half-made`), "");
    mkdirSync(join(state, "buildroots/locks"), { recursive: true });
    writeFileSync(
      join(state, "buildroots/locks", `${key}.lock`),
      JSON.stringify({ pid: 999_999, start: "1", what: "a killed creation" }),
    );
  });

  it("two concurrent processes make it once, over a killed creation's leftovers; a third reuses it", async () => {
    const args = ["buildroot", "build", specFile, "--arch", "x86_64", "--state-dir", state, "--json"];
    const [a, b] = await Promise.all([compatAsync(args), compatAsync(args)]);
    expect(a.status, a.stderr).toBe(0);
    expect(b.status, b.stderr).toBe(0);
    const [ra, rb] = [built(a.stdout), built(b.stdout)];
    expect(ra.identity).toBe(rb.identity);
    expect([ra.made, rb.made].sort()).toEqual([false, true]);
    expect(a.stderr + b.stderr).toMatch(/waiting: making the x86_64 build root bookworm/);
    root = ra.made ? ra : rb;
    expect(readdirSync(join(state, "buildroots/x86_64"))).toEqual([root.identity]);
    expect(readdirSync(join(state, "buildroots/tmp"))).toEqual([]); // the leftover went
    expect(root.packages.map((p) => p.name)).toEqual(expect.arrayContaining(["bash", "dpkg", "libc6"]));
    expect(root.packageCount).toBe(root.packages.length);
    expect(existsSync(join(root.dir, "usr/bin/bash"))).toBe(true);

    const before = statSync(root.dir).ino;
    const c = compat(args);
    expect(c.status, c.stderr).toBe(0);
    expect(built(c.stdout)).toMatchObject({ identity: root.identity, made: false, dir: root.dir });
    expect(statSync(root.dir).ino).toBe(before);
    expect(c.stderr).not.toMatch(/mmdebstrap/);
  });

  it("lists it; a damaged or planted entry is shown damaged and never used", async () => {
    expect(listed(state)).toEqual([expect.objectContaining({ identity: root.identity, state: "ok" })]);
    // copies sharing the tree's files (hard links): what is changed is replaced, never written through
    const copy = (name: string) => {
      const s = join(work, name);
      const cp = spawnSync("cp", ["-a", "--link", state, s], { encoding: "utf8" });
      expect(cp.status, cp.stderr).toBe(0);
      return { s, entry: join(s, "buildroots/x86_64", root.identity) };
    };
    const replace = (file: string, text: string) => {
      rmSync(file);
      writeFileSync(file, text);
    };
    const lying = copy("lying");
    const record = JSON.parse(readFileSync(join(lying.entry, "buildroot.json"), "utf8"));
    record.packages[0].version = "9:9.9";
    replace(join(lying.entry, "buildroot.json"), JSON.stringify(record));
    expect(listed(lying.s)[0]).toMatchObject({
      state: "damaged",
      problem: expect.stringMatching(/does not hash/),
    });

    const changed = copy("changed");
    const status = join(changed.entry, "root/var/lib/dpkg/status");
    const text = readFileSync(status, "utf8").replace(/^Version: .*$/m, "Version: 9:9.9");
    replace(status, text);
    expect(listed(changed.s)[0]).toMatchObject({
      state: "damaged",
      problem: expect.stringMatching(/tree was changed/),
    });

    const halfMade = copy("half");
    rmSync(join(halfMade.entry, "buildroot.json"));
    expect(listed(halfMade.s)[0]).toMatchObject({
      state: "damaged",
      problem: expect.stringMatching(/killed/),
    });

    const planted = copy("planted");
    rmSync(planted.entry, { recursive: true });
    symlinkSync(entry(), planted.entry);
    expect(listed(planted.s)[0]).toMatchObject({
      state: "damaged",
      problem: expect.stringMatching(/symbolic link/),
    });

    // a symlink in place of the arch directory: refused, nothing written through it
    const archLink = copy("arch-link");
    rmSync(join(archLink.s, "buildroots/x86_64"), { recursive: true });
    symlinkSync(join(state, "buildroots/x86_64"), join(archLink.s, "buildroots/x86_64"));
    const refused = compat(["buildroot", "build", specFile, "--arch", "x86_64", "--state-dir", archLink.s]);
    expect(refused.status).toBe(3);
    expect(refused.stderr).toMatch(
      /buildroots\/x86_64 is a symbolic link, not a directory compat made: refused/,
    );

    // a request file that points a request for `make` at the minbase root: dropped, the root not used
    const withMake = buildRootFor(
      parseSpec(`${SPEC}buildRoot:\n  packages: [make]\n`, specFile).spec,
      "x86_64",
    );
    const makeKey = requestKey({
      arch: "x86_64",
      spec: withMake,
      sources: debianSources(
        { ...mmdebstrapSettings(withMake), suite: "bookworm" },
        await readHostAptSources(),
      ),
    });
    const lyingIndex = copy("lying-index");
    writeFileSync(
      join(lyingIndex.s, "buildroots/requests", `${makeKey}.json`),
      JSON.stringify({ identity: root.identity, arch: "x86_64", sourceDateEpoch: 1, at: "" }),
    );
    const indexNotes = await stoppedAt(withMake, lyingIndex.s, /not used/);
    expect(indexNotes).toMatch(/points at build root .*, which lacks make: not used/);
    expect(existsSync(join(lyingIndex.s, "buildroots/requests", `${makeKey}.json`))).toBe(false);

    // the build does not use the changed root: it removes it and starts making a new one (stopped here)
    const spec = buildRootFor(parseSpec(SPEC, specFile).spec, "x86_64");
    const notes = await stoppedAt(spec, changed.s, /damaged .*removed, making it again/);
    expect(notes).toMatch(/tree was changed/);
    expect(existsSync(changed.entry)).toBe(false);
    expect(existsSync(entry())).toBe(true); // the original, whose files the copy shared, is whole
    expect(listed(state)[0]).toMatchObject({ state: "ok" });
  });

  it("names a package Debian does not have before building anything", () => {
    const bad = join(work, "bad.yaml");
    writeFileSync(bad, `${SPEC}buildRoot:\n  packages: [make, no-such-package-compat]\n`);
    const r = compat(["buildroot", "build", bad, "--arch", "x86_64", "--state-dir", state]);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(
      /buildRoot\.packages: Debian bookworm \(main\) for amd64 has no package no-such-package-compat/,
    );
    expect(readdirSync(join(state, "buildroots/x86_64"))).toEqual([root.identity]);
    expect(readdirSync(join(state, "buildroots/tmp"))).toEqual([]);
  });

  it("prune keeps the root a live process uses, removes it once released", async () => {
    const spec = buildRootFor(parseSpec(SPEC, specFile).spec, "x86_64");
    const mine = await ensureBuildRoot(spec, { arch: "x86_64", stateDir: state });
    expect(mine).toMatchObject({ identity: root.identity, made: false });
    const prune = (...extra: string[]) => {
      const r = compat(["buildroot", "prune", "--keep", "0", "--json", "--state-dir", state, ...extra]);
      expect(r.status, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as {
        removed: Array<{ identity: string }>;
        inUse: Array<{ identity: string }>;
      };
    };
    expect(prune()).toMatchObject({ removed: [], inUse: [{ identity: root.identity }] });
    expect(existsSync(root.dir)).toBe(true);
    await releaseBuildRoot(mine, state);
    expect(prune("--dry-run")).toMatchObject({ removed: [{ identity: root.identity }], inUse: [] });
    expect(existsSync(root.dir)).toBe(true);
    expect(prune()).toMatchObject({ removed: [{ identity: root.identity }] });
    expect(existsSync(entry())).toBe(false);
    expect(listed(state)).toEqual([]);
    const bad = compat(["buildroot", "prune", "--keep", "-1", "--state-dir", state]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--keep -1: not a whole number/);
  });
});

/** 3–4 minutes under qemu-user: outside the default run (COMPAT_SLOW_TESTS=1), as the aarch64 layer is. */
const slow = process.env.COMPAT_SLOW_TESTS === "1";

describe.skipIf(!slow || !canRun || !emulationFor("riscv64").runnable)(
  "a riscv64 build root on this x86_64 machine (COMPAT_SLOW_TESTS=1)",
  () => {
    it("is made through qemu-user from trixie, and its programs run", { timeout: 900_000 }, () => {
      const s = join(work, "riscv64-state");
      const r = compat(["buildroot", "build", specFile, "--arch", "riscv64", "--state-dir", s, "--json"]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/riscv64 programs run emulated/);
      const root = built(r.stdout);
      expect(root).toMatchObject({ made: true, suite: "trixie" });
      expect(new Set(root.packages.map((p) => p.arch))).toEqual(new Set(["riscv64", "all"]));
      const elf = readFileSync(join(root.dir, "usr/bin/bash")).subarray(0, 20);
      expect(elf.readUInt16LE(18)).toBe(243); // EM_RISCV
      const uname = spawnSync(
        "bwrap",
        ["--ro-bind", root.dir, "/", "--proc", "/proc", "--dev", "/dev", "/usr/bin/uname", "-m"],
        { encoding: "utf8" },
      );
      expect(uname.stdout.trim(), uname.stderr).toBe("riscv64");
    });
  },
);
