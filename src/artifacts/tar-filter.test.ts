import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LAYER, makeLayerTree, TOP_DIR, treeDigest } from "../../test/helpers/layer-tree.js";
import { indexTree } from "./entry-index.js";
import { packLayer } from "./pack.js";
import { TarMemberFilter } from "./tar-filter.js";

let work: string;
let tar: Buffer;
let prefix: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "compat-tar-filter-"));
  prefix = join(work, "build/versions", TOP_DIR);
  makeLayerTree(prefix, { files: 40, bigFileMiB: 1 });
  const { artifact } = await packLayer({ ...LAYER, prefix, outDir: join(work, "out"), epoch: 1_750_000_000 });
  tar = execFileSync("zstd", ["-q", "-d", "-c", artifact], { maxBuffer: 1 << 28 });
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function filtered(keep: (name: string) => boolean, chunk = 7_777): Promise<Buffer> {
  const sink = new PassThrough();
  const parts: Buffer[] = [];
  sink.on("data", (c: Buffer) => parts.push(c));
  const filter = new TarMemberFilter(sink, keep);
  for (let i = 0; i < tar.length; i += chunk) filter.write(tar.subarray(i, i + chunk));
  await new Promise<void>((resolve, reject) => filter.end((e?: Error | null) => (e ? reject(e) : resolve())));
  return Buffer.concat(parts);
}

/** GNU tar's listing (from a file: it stops reading at the end of the archive, before the padding). */
const names = (archive: Buffer) => {
  const file = join(work, "listed.tar");
  writeFileSync(file, archive);
  return execFileSync("tar", ["-t", "-f", file], { maxBuffer: 1 << 28 })
    .toString("utf8")
    .split("\n")
    .filter(Boolean)
    .map((n) => n.replace(/\/$/, ""));
};

describe("TarMemberFilter", () => {
  it("passes every member byte for byte when all are kept", async () => {
    const out = await filtered(() => true);
    expect(names(out)).toEqual(names(tar));
    // The members are the original bytes; only the record padding after the end differs.
    expect(out.subarray(0, out.length - 1024).equals(tar.subarray(0, out.length - 1024))).toBe(true);
    const dir = join(work, "all");
    mkdirSync(dir);
    writeFileSync(join(work, "all.tar"), out);
    execFileSync("tar", ["-x", "-p", "-C", dir, "-f", join(work, "all.tar")]);
    expect(treeDigest(join(dir, TOP_DIR))).toBe(treeDigest(prefix));
  });

  it("keeps exactly the chosen members, long names (pax) and hard links included, in any chunking", async () => {
    const want = new Set([
      `${TOP_DIR}/usr/bin/tool`,
      `${TOP_DIR}/usr/bin/tool-hardlink`,
      ...names(tar).filter((n) => n.length > 200 || n.includes("été")),
    ]);
    for (const chunk of [97, 512, 513, 65_536]) {
      const out = await filtered((n) => want.has(n), chunk);
      expect(names(out).sort()).toEqual([...want].sort());
    }
    const out = await filtered((n) => want.has(n));
    const dir = join(work, "some");
    mkdirSync(dir);
    writeFileSync(join(work, "some.tar"), out);
    execFileSync("tar", ["-x", "-p", "-C", dir, "-f", join(work, "some.tar")]);
    const index = indexTree(join(dir, TOP_DIR));
    expect(index.get("usr/bin/tool-hardlink")?.type).toBe("hardlink");
    expect(
      readFileSync(join(dir, TOP_DIR, "usr/bin/tool")).equals(readFileSync(join(prefix, "usr/bin/tool"))),
    ).toBe(true);
  });

  it("gives an empty archive when nothing is kept, and refuses a stream without its end", async () => {
    expect(names(await filtered(() => false))).toEqual([]);
    const filter = new TarMemberFilter(new PassThrough(), () => true);
    filter.write(tar.subarray(0, 4096));
    await expect(
      new Promise<void>((resolve, reject) => {
        filter.on("error", () => {});
        filter.end((e?: Error | null) => (e ? reject(e) : resolve()));
      }),
    ).rejects.toThrow(/without its end-of-archive/);
  });
});
