/**
 * buildOnExecutor through the real local job path (sh, setsid) with a stand-in compat whose `pack`
 * leaves chosen files: what comes back is pinned to the asked layer, and a failed check removes only
 * what the job put into -o.
 */
import { createHash } from "node:crypto";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { JobPlace } from "../exec/job.js";
import { openSpec } from "../spec/open.js";
import { COMPAT_VERSION } from "../version.js";
import { buildOnExecutor, expectedOutputs } from "./remote-build.js";

const base = mkdtempSync(join(tmpdir(), "compat-remote-build-"));
afterAll(() => rmSync(base, { recursive: true, force: true }));
const specFile = join(base, "spec", "dev.yaml");
const fixture = join(base, "fixture");
const compat = join(base, "compat");
const place: JobPlace = { executor: { kind: "local" }, compat: [compat], workDir: join(base, "work") };
let stem = "";

beforeAll(async () => {
  mkdirSync(join(base, "spec"));
  mkdirSync(place.workDir);
  copyFileSync("examples/dev.yaml", specFile);
  const { layer } = await openSpec(specFile);
  stem = `${layer.stack}-${layer.version}-compat-${layer.os}-${layer.arch}`;
  writeFileSync(
    compat,
    [
      "#!/bin/sh",
      `case "$1" in --version) echo ${COMPAT_VERSION};; build) while [ $# -gt 0 ]; do [ "$1" = --runs-dir ] && mkdir -p "$2"; shift; done;;`,
      `pack) while [ $# -gt 0 ]; do [ "$1" = -o ] && out=$2; shift; done; cp ${fixture}/* "$out"/; echo '{}';; esac`,
      "",
    ].join("\n"),
    { mode: 0o755 },
  );
});

const sha = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");

/** The stand-in pack leaves these files (name → bytes). */
function packLeaves(files: Record<string, string>) {
  rmSync(fixture, { recursive: true, force: true });
  mkdirSync(fixture);
  for (const [n, c] of Object.entries(files)) writeFileSync(join(fixture, n), c);
}

const build = (outDir: string) =>
  buildOnExecutor({ specFile, place, outDir, onLine: (l) => process.env.SHOW_JOB && console.log(l) });

describe("buildOnExecutor keeps only what was asked for", () => {
  it("a failed verification leaves the files that were already in -o", async () => {
    const a = `${stem}-1700000000.tar.zst`;
    const bytes = "not a tar";
    const manifest = JSON.stringify({ artifact: a, sha256: sha(bytes) });
    packLeaves({ [a]: bytes, [`${a}.manifest.json`]: manifest });
    const out = join(base, "out-existing");
    mkdirSync(out);
    writeFileSync(join(out, a), bytes);
    writeFileSync(join(out, `${a}.manifest.json`), manifest);
    await expect(build(out)).rejects.toThrow(/fails verification|not|cannot/);
    expect(readdirSync(out).sort()).toEqual([a, `${a}.manifest.json`]);
    expect(readFileSync(join(out, a), "utf8")).toBe(bytes);
  });

  it("refuses another arch's artifact, a second artifact or a stray file, and copies nothing", async () => {
    const a = `${stem}-1700000000.tar.zst`;
    const other = a.replace(/-(x86_64|aarch64|riscv64|ppc64le)-/, (_m, x) =>
      x === "aarch64" ? "-x86_64-" : "-aarch64-",
    );
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ [other]: "x", [`${other}.manifest.json`]: "{}" }, /not a full artifact of the layer asked for/],
      [{ [a]: "x", [`${a}.manifest.json`]: "{}", "0.manifest.json": "{}" }, /not asked for/],
      [{ [a]: "x", [`${a}.manifest.json`]: "{}", [`${a}.manifest.json.sig`]: "" }, /not asked for/],
      [{ [a]: "x" }, /no .*manifest\.json/],
    ];
    for (const [files, error] of cases) {
      packLeaves(files);
      const out = join(base, `out-${Object.keys(files).length}-${Math.random().toString(36).slice(2)}`);
      await expect(build(out)).rejects.toThrow(error);
      expect(existsSync(out)).toBe(false);
    }
  }, 60_000);

  it("names the run record after the artifact, so several arches and runs share one -o", () => {
    const layer = { stack: "eessi", version: "2025.06", os: "linux", arch: "x86_64" } as const;
    const a = "eessi-2025.06-compat-linux-x86_64-1700000000.tar.zst";
    expect(() =>
      expectedOutputs(
        [{ name: a }, { name: `${a}.manifest.json` }, { name: `${a}.run-record.tar` }],
        layer,
        "h",
      ),
    ).not.toThrow();
    expect(() =>
      expectedOutputs([{ name: a }, { name: `${a}.manifest.json` }, { name: "run-record.tar" }], layer, "h"),
    ).toThrow(/run-record\.tar/);
    expect(() =>
      expectedOutputs(
        [{ name: a.replace(".tar", ".delta.tar") }, { name: `${a}.manifest.json` }],
        layer,
        "h",
      ),
    ).toThrow(/not a full artifact/);
    const second = { name: a.replace("1700000000", "1700000001") };
    expect(() =>
      expectedOutputs(
        [{ name: a }, second, { name: `${a}.manifest.json` }, { name: `${a}.run-record.tar` }],
        layer,
        "h",
      ),
    ).toThrow(/2 artifacts/);
  });
});

describe("buildOnExecutor sends the spec's bootstrap script as the local build reads it", () => {
  it("refuses a script that is a link out of the spec's directory, and sends nothing", async () => {
    const dir = join(base, "pr");
    mkdirSync(dir);
    const secret = join(base, "secret.key");
    writeFileSync(secret, "TOP-SECRET-KEY-MATERIAL\n");
    symlinkSync(secret, join(dir, "bootstrap.sh"));
    const text = readFileSync("examples/eessi-2025.06.yaml", "utf8").replace(
      /^ {2}bootstrap:\n/m,
      "  bootstrap:\n    script:\n      path: bootstrap.sh\n",
    );
    expect(text).toContain("path: bootstrap.sh");
    writeFileSync(join(dir, "eessi.yaml"), text);
    const before = readdirSync(place.workDir, { recursive: true }).length;
    await expect(
      buildOnExecutor({
        specFile: join(dir, "eessi.yaml"),
        place,
        outDir: join(base, "out-pr"),
        onLine: () => {},
      }),
    ).rejects.toThrow(/gentoo\.bootstrap\.script\.path/);
    expect(readdirSync(place.workDir, { recursive: true }).length).toBe(before);
  });
});
