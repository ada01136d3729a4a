/**
 * checkReproducible with the gentoo flavor's layer: Gentoo Prefix cannot bootstrap here (it needs
 * Gentoo's mirrors), so each copy is the gentoo-2023.06 prefix fixture as a build leaves it (its
 * files written at the copy's own time, its build record with the layer's SOURCE_DATE_EPOCH),
 * packed by the real packer through the CopyBuilder an executor plugs into; compared by the real
 * artifact reader and diff. The debian flavor's real builds are in test/integration/reproducible.test.ts.
 */
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { copyPrefixLayout } from "../../test/helpers/prefix-layout.js";
import { resolveLayerSource } from "../artifacts/layer-source.js";
import { packLayer } from "../artifacts/pack.js";
import { type CompatError, InputError } from "../errors.js";
import { writeReprod } from "../layer/reprod.js";
import { type CopyBuilder, canBuildConcurrently, checkReproducible } from "./reproducible.js";

const EPOCH = 1_718_000_000;
const COMMIT = "a".repeat(40);
let work: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "compat-reproducible-unit-"));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A gentoo layer "built" into r.dir at this moment; `plant` changes it after the build. */
function gentooCopies(plant?: (prefix: string) => void, epochOf = (_copy: string) => EPOCH): CopyBuilder {
  return async (r) => {
    const prefix = join(r.dir, "root/versions/2023.06/compat/linux/x86_64");
    copyPrefixLayout("gentoo-2023.06", prefix, {
      EPREFIX: "/cvmfs/software.eessi.io/versions/2023.06/compat/linux/x86_64",
    });
    await writeReprod(prefix, {
      packagesTxt: "sys-libs/glibc-2.37-r7::gentoo\n",
      specText: "flavor: gentoo\n",
      record: {
        stack: "eessi",
        repository: "software.eessi.io",
        version: "2023.06",
        os: "linux",
        flavor: "gentoo",
        arch: "x86_64",
        prefix: "/cvmfs/software.eessi.io/versions/2023.06/compat/linux/x86_64",
        specHash: "0".repeat(64),
        gentooCommit: COMMIT,
        sourceDateEpoch: epochOf(r.copy),
        inputs: { gentooRepository: { commit: COMMIT }, binhost: null },
        toolVersions: {},
        compatVersion: "0.1.0",
      },
    });
    if (r.copy === "B") plant?.(prefix);
    const packed = await packLayer({
      ...(await resolveLayerSource(prefix, {})),
      outDir: join(r.dir, "artifact"),
    });
    return {
      copy: r.copy,
      artifact: packed.artifact,
      sha256: packed.manifest.sha256,
      runDir: join(r.dir, "runs"),
      durationMs: 1,
    };
  };
}

const options = (name: string, buildCopy: CopyBuilder, concurrent = false) => ({
  specFile: "eessi-2023.06.yaml",
  runsDir: join(work, name),
  signal: new AbortController().signal,
  concurrent,
  buildCopy,
});

describe("compat build --check-reproducible (the comparison, with gentoo prefix copies)", () => {
  it("two copies written at different times pack to the same sha256: reproducible, nothing kept but the verdict", async () => {
    const v = await checkReproducible(options("same", gentooCopies(), true));
    expect(v.reproducible).toBe(true);
    expect(v.concurrent).toBe(true);
    expect(v.copies.map((c) => c.copy)).toEqual(["A", "B"]);
    expect(v.copies[0]!.sha256).toBe(v.copies[1]!.sha256);
    expect(v.copies[0]!.artifact).toMatch(/eessi-2023\.06-compat-linux-x86_64-1718000000\.tar\.zst$/);
    expect(v.copies[0]!.sourceDateEpoch).toBe(EPOCH);
    expect(v.differing).toEqual([]);
    expect(JSON.parse(readFileSync(join(v.workDir, "verdict.json"), "utf8"))).toMatchObject({
      reproducible: true,
    });
    expect(existsSync(join(v.workDir, "A", "artifact"))).toBe(false);
    expect(existsSync(join(v.workDir, "A", "root"))).toBe(false);
  });

  it("names the one file whose content differs, and keeps both artifacts", async () => {
    const v = await checkReproducible(
      options(
        "content",
        gentooCopies((prefix) => {
          const f = join(prefix, "etc/portage/package.env");
          writeFileSync(f, `${readFileSync(f, "utf8")}# planted\n`);
          utimesSync(f, EPOCH - 10, EPOCH - 10);
        }),
      ),
    );
    expect(v.reproducible).toBe(false);
    expect(v.concurrent).toBe(false);
    expect(v.differing).toEqual([{ path: "etc/portage/package.env", differs: ["content", "mtime"] }]);
    expect(v.packages).toMatchObject({ added: [], removed: [], upgraded: [], downgraded: [] });
    for (const c of v.copies) expect(existsSync(c.artifact)).toBe(true);
  });

  it("names an mtime-only difference, a mode, and a file only one build has", async () => {
    const v = await checkReproducible(
      options(
        "meta",
        gentooCopies((prefix) => {
          utimesSync(join(prefix, "startprefix"), EPOCH - 3600, EPOCH - 3600);
          writeFileSync(join(prefix, "etc/portage/extra.conf"), "x\n");
          chmodSync(join(prefix, "usr/bin/ld.so"), 0o700);
        }),
      ),
    );
    expect(v.differing).toEqual([
      { path: "etc/portage/extra.conf", differs: ["only in B"] },
      { path: "startprefix", differs: ["mtime"] },
      { path: "usr/bin/ld.so", differs: ["mode"] },
    ]);
  });

  it("two builds at different SOURCE_DATE_EPOCHs differ in their record, their mtimes and their name", async () => {
    const v = await checkReproducible(
      options(
        "epoch",
        gentooCopies(undefined, (copy) => (copy === "A" ? EPOCH : EPOCH + 86_400)),
      ),
    );
    expect(v.reproducible).toBe(false);
    expect(v.copies.map((c) => c.sourceDateEpoch)).toEqual([EPOCH, EPOCH + 86_400]);
    const paths = v.differing.map((d) => d.path);
    expect(paths).toContain("reprod/20240610_061320UTC");
    expect(paths).toContain("reprod/20240611_061320UTC");
    expect(v.differing.find((d) => d.path === "startprefix")?.differs).toEqual(["mtime"]);
  });

  it("builds both copies at once only on a machine with 4 cores and 4 GiB free", () => {
    expect(canBuildConcurrently(2, 16 * 2 ** 30)).toBe(false);
    expect(canBuildConcurrently(8, 2 * 2 ** 30)).toBe(false);
    expect(canBuildConcurrently(4, 4 * 2 ** 30)).toBe(true);
  });
});

describe("--against", () => {
  it("is checked to be a regular file before it is read: a FIFO by an artifact's name is refused at once", async () => {
    const dir = join(work, "against-fifo");
    mkdirSync(dir, { recursive: true });
    const fifo = join(dir, "eessi-2023.06-compat-linux-x86_64-1700000000.tar.zst");
    execFileSync("mkfifo", [fifo]);
    let built = false;
    const builder: CopyBuilder = async () => {
      built = true;
      throw new Error("not to be built");
    };
    const err = (await checkReproducible({ ...options("against-fifo", builder), against: fifo }).catch(
      (e: unknown) => e,
    )) as CompatError;
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toBe(`--against ${fifo}: a FIFO, not an artifact file`);
    expect(built).toBe(false);
    await expect(checkReproducible({ ...options("against-dir", builder), against: dir })).rejects.toThrow(
      /a directory, not an artifact file/,
    );
  });
});

describe("a copy that fails", () => {
  it("stops the other one and removes both layers; the error is the failed copy's", async () => {
    let otherAborted = false;
    const builder: CopyBuilder = async (r) => {
      if (r.copy === "A") throw new Error("bootstrap of A failed");
      mkdirSync(join(r.dir, "root"), { recursive: true });
      await new Promise<void>((resolve) =>
        r.signal.addEventListener("abort", () => resolve(), { once: true }),
      );
      otherAborted = true;
      throw new Error("B stopped");
    };
    const runsDir = join(work, "failing");
    await expect(checkReproducible({ ...options("failing", builder, true), runsDir })).rejects.toThrow(
      "bootstrap of A failed",
    );
    expect(otherAborted).toBe(true);
    const [dir] = readdirSync(runsDir);
    expect(existsSync(join(runsDir, dir!, "B", "root"))).toBe(false);
  });
});
