import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LAYER, makeLayerTree, TOP_DIR, treeDigest } from "../../test/helpers/layer-tree.js";
import { indexTree } from "./entry-index.js";
import { packLayer } from "./pack.js";
import { type RawMember, TarSpool } from "./tar-spool.js";

let work: string;
let tar: Buffer;
let prefix: string;
let spools = 0;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "compat-tar-spool-"));
  prefix = join(work, "build/versions", TOP_DIR);
  makeLayerTree(prefix, { files: 40, bigFileMiB: 1 });
  const { artifact } = await packLayer({ ...LAYER, prefix, outDir: join(work, "out"), epoch: 1_750_000_000 });
  tar = execFileSync("zstd", ["-q", "-d", "-c", artifact], { maxBuffer: 1 << 28 });
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Spool `tar` in chunks of `chunk` bytes, keeping what `keep` says; the members seen and the spool. */
async function spooled(keep: (m: RawMember) => boolean, chunk = 7_777) {
  const seen: RawMember[] = [];
  const spool = new TarSpool(join(work, `spool-${++spools}.tar`), (m) => {
    seen.push(m);
    return keep(m);
  });
  for (let i = 0; i < tar.length; i += chunk) spool.write(tar.subarray(i, i + chunk));
  await new Promise<void>((resolve, reject) => spool.end((e?: Error | null) => (e ? reject(e) : resolve())));
  return { seen, spool, bytes: readFileSync(spool.path) };
}

const names = (file: string) =>
  execFileSync("tar", ["-t", "-f", file], { encoding: "utf8" })
    .split("\n")
    .filter(Boolean)
    .map((n) => n.replace(/\/$/, ""));

describe("TarSpool", () => {
  it("keeps every member byte for byte when all are kept, and tells each one's type, mode, link and sha256", async () => {
    const { seen, spool, bytes } = await spooled(() => true);
    expect(spool.problem).toBeUndefined();
    expect(bytes.subarray(0, bytes.length - 1024).equals(tar.subarray(0, bytes.length - 1024))).toBe(true);
    const dir = join(work, "all");
    mkdirSync(dir);
    execFileSync("tar", ["-x", "-p", "-C", dir, "-f", spool.path]);
    expect(treeDigest(join(dir, TOP_DIR))).toBe(treeDigest(prefix));
    const index = indexTree(prefix);
    const byName = new Map(seen.map((m) => [m.name === TOP_DIR ? "" : m.name.slice(TOP_DIR.length + 1), m]));
    for (const [rel, e] of index) {
      const m = byName.get(rel)!;
      expect(m.mode, rel).toBe(e.mode);
      if (e.type === "file") expect(m.sha256, rel).toBe(e.digest);
      if (e.type === "symlink") expect(m.linkname, rel).toBe(e.digest);
      if (e.type === "hardlink") expect(m.linkname).toBe(`${TOP_DIR}/${e.digest}`);
    }
  });

  it("keeps exactly the chosen members, long names (pax) and hard links included, in any chunking", async () => {
    const want = new Set([`${TOP_DIR}/usr/bin/tool`, `${TOP_DIR}/usr/bin/tool-hardlink`]);
    const all = (await spooled(() => true)).seen.map((m) => m.name);
    for (const n of all) if (n.length > 200 || n.includes("été")) want.add(n);
    for (const chunk of [97, 512, 513, 65_536]) {
      const { spool } = await spooled((m) => want.has(m.name), chunk);
      expect(names(spool.path).sort()).toEqual([...want].sort());
    }
    const { spool } = await spooled((m) => want.has(m.name));
    const dir = join(work, "some");
    mkdirSync(dir);
    execFileSync("tar", ["-x", "-p", "-C", dir, "-f", spool.path]);
    expect(indexTree(join(dir, TOP_DIR)).get("usr/bin/tool-hardlink")?.type).toBe("hardlink");
    expect(
      readFileSync(join(dir, TOP_DIR, "usr/bin/tool")).equals(readFileSync(join(prefix, "usr/bin/tool"))),
    ).toBe(true);
  });

  it("gives an empty archive when nothing is kept, and reports a stream without its end", async () => {
    const { spool } = await spooled(() => false);
    expect(names(spool.path)).toEqual([]);
    const cut = new TarSpool(join(work, "cut.tar"), () => true);
    cut.write(tar.subarray(0, 4096));
    await new Promise<void>((resolve) => cut.end(() => resolve()));
    expect(cut.problem).toMatch(/without its end-of-archive/);
  });
});

describe("a path whose first 100 bytes end at a slash (GNU tar's pax fallback name)", () => {
  it("is packed, verified and indexed as the file it is", async () => {
    const { verifyArtifact } = await import("./verify.js");
    const { indexArtifact } = await import("./entry-index.js");
    const prefix = join(work, "slash/versions", TOP_DIR);
    // 28 + 61 + 11 = 100 bytes of member name end with "__pycache__/"
    const rel =
      "usr/lib/python3/dist-packages/pip/_vendor/pyparsing/diagram/__pycache__/__init__.cpython-311.pyc";
    expect(Buffer.byteLength(`${TOP_DIR}/${rel}`.slice(0, 100)).toString()).toBe("100");
    expect(`${TOP_DIR}/${rel}`.slice(0, 100).endsWith("/")).toBe(true);
    mkdirSync(join(prefix, rel, ".."), { recursive: true });
    execFileSync("sh", [
      "-c",
      `printf 'pyc' > '${join(prefix, rel)}' && printf 'after' > '${join(prefix, "zz-after")}'`,
    ]);
    const { artifact } = await packLayer({
      ...LAYER,
      prefix,
      outDir: join(work, "slash-out"),
      epoch: 1_750_000_000,
    });
    const report = await verifyArtifact(artifact);
    expect(report.violations).toEqual([]);
    const { index } = await indexArtifact(artifact);
    expect(index.get(rel)).toMatchObject({ type: "file", size: 3 });
    expect(index.get("zz-after")).toMatchObject({ type: "file", size: 5 });
  });
});
