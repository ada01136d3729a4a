/**
 * The corpus of broken and malicious artifacts: each is made here (tar-stream, GNU tar, zstd,
 * gzip), each must be rejected by `verify` naming its rule and the member, and `publish` to a local
 * repository must refuse it with nothing written anywhere (the repository, its state dir, or the
 * paths the archive aims at).
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Header, pack } from "tar-stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type ArtifactManifest,
  type DeltaPatch,
  MANIFEST_FORMAT,
  serializeManifest,
} from "../../src/artifacts/manifest.js";
import type { RuleId } from "../../src/artifacts/rules.js";
import { generateKeyPair, signBytes } from "../../src/artifacts/sign.js";
import { verifyArtifact } from "../../src/artifacts/verify.js";
import { LocalPublisher } from "../../src/publish/local.js";
import { TOP_DIR, treeDigest } from "../helpers/layer-tree.js";

type Entry = Partial<Header> & { name: string; content?: string };

let work: string;
let escapeDir: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "compat-corpus-"));
  escapeDir = join(work, "escape-target");
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function tarOf(entries: Entry[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on("data", (c: unknown) => {
    chunks.push(c as Buffer);
  });
  const ended = new Promise<void>((r) => p.on("end", () => r()));
  for (const { content, ...h } of entries) {
    await new Promise<void>((resolve, reject) =>
      p.entry(
        { mode: h.type === "directory" ? 0o755 : 0o644, mtime: new Date(1_700_000_000_000), ...h },
        content ?? "",
        (e) => (e ? reject(e) : resolve()),
      ),
    );
  }
  p.finalize();
  await ended;
  return Buffer.concat(chunks);
}

const base = (rest: Entry[]): Entry[] => [
  { name: `${TOP_DIR}/`, type: "directory" },
  { name: `${TOP_DIR}/etc/`, type: "directory" },
  { name: `${TOP_DIR}/etc/os-release`, content: "NAME=compat\n" },
  ...rest,
];

const compress = (tar: Buffer, how: "zstd" | "gzip") =>
  execFileSync(how === "zstd" ? "zstd" : "gzip", how === "zstd" ? ["-q", "-c"] : ["-n", "-c"], {
    input: tar,
    maxBuffer: 1 << 28,
  });

interface Made {
  artifact: string;
  manifestPath: string;
}

/** An artifact with an honest manifest beside it, unless `mangle` says otherwise. */
function makeArtifact(
  dir: string,
  name: string,
  data: Buffer,
  mangle: (m: ArtifactManifest) => void = () => {},
): Made {
  mkdirSync(dir, { recursive: true });
  const artifact = join(dir, name);
  writeFileSync(artifact, data);
  const m: ArtifactManifest = {
    format: MANIFEST_FORMAT,
    artifact: name,
    kind: name.includes(".delta.") ? "delta" : "full",
    sha256: createHash("sha256").update(data).digest("hex"),
    size: data.length,
    compression: name.endsWith(".gz") ? "gzip" : "zstd",
    members: 0,
    files: 0,
    contentBytes: 0,
    topDir: TOP_DIR,
    stack: "dev",
    version: "2025.06",
    os: "linux",
    arch: "x86_64",
    buildTime: 1_750_000_000,
    createdAt: new Date().toISOString(),
    specHash: null,
    flavor: "debian",
    packageDatabase: null,
    packages: null,
    buildRecord: null,
    setuid: [],
  };
  mangle(m);
  const manifestPath = `${artifact}.manifest.json`;
  writeFileSync(manifestPath, serializeManifest(m));
  return { artifact, manifestPath };
}

const NAME = "dev-2025.06-compat-linux-x86_64-1750000000.tar.zst";

interface Case {
  rule: RuleId;
  title: string;
  make: (dir: string) => Promise<Made>;
  /** Expected member in the violation (a substring); omitted for stream-level rules. */
  member?: string;
  publicKey?: boolean;
  approved?: string;
}

const tarCase =
  (entries: Entry[], name = NAME) =>
  async (dir: string) =>
    makeArtifact(dir, name, compress(await tarOf(base(entries)), name.endsWith(".gz") ? "gzip" : "zstd"));

const DELTA_NAME = "dev-2025.06-compat-linux-x86_64-1750000100.delta.tar.zst";

const patch = (p: Partial<DeltaPatch> & { path: string; from: string }): DeltaPatch => ({
  member: ".compat-delta/000001",
  method: "zstd-patch-from",
  baseSha256: "a".repeat(64),
  baseSize: 10_000,
  sha256: "b".repeat(64),
  size: 10_000,
  mode: 0o755,
  mtime: 1_750_000_000,
  ...p,
});

/** A delta whose archive has a patch member for each of `patches` after `entries`. */
const deltaCase =
  (entries: Entry[], patches: DeltaPatch[]) =>
  async (dir: string): Promise<Made> =>
    makeArtifact(
      dir,
      DELTA_NAME,
      compress(
        await tarOf(
          base([
            ...entries,
            ...(patches.length > 0
              ? [{ name: `${TOP_DIR}/.compat-delta/`, type: "directory" as const }]
              : []),
            ...patches.map((p) => ({ name: `${TOP_DIR}/${p.member}`, content: "(a zstd patch)" })),
          ]),
        ),
        "zstd",
      ),
      (m) => {
        m.delta = { base: { artifact: NAME, sha256: "c".repeat(64) }, deletions: [], patches };
      },
    );

/** pax records (`<length> <key>=<value>\n`, the length counting itself). */
function paxRecords(records: Record<string, string>): string {
  return Object.entries(records)
    .map(([k, v]) => {
      const body = ` ${k}=${v}\n`;
      let n = Buffer.byteLength(body);
      while (String(n + String(n).length).length !== String(n).length) n++;
      return `${n + String(n).length}${body}`;
    })
    .join("");
}

/** A tar archive with the header of member `index` changed by `edit` (its checksum made right again). */
async function editedTar(entries: Entry[], index: number, edit: (header: Buffer) => void): Promise<Buffer> {
  const tar = Buffer.from(await tarOf(entries));
  let at = 0;
  for (let i = 0; i < index; i++) {
    const size = Number.parseInt(
      tar
        .subarray(at + 124, at + 136)
        .toString("latin1")
        .replace(/\0.*$/, ""),
      8,
    );
    at += 512 + Math.ceil(size / 512) * 512;
  }
  const header = tar.subarray(at, at + 512);
  edit(header);
  header.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of header) sum += b;
  header.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, 8, "latin1");
  return tar;
}

/** A case whose first member after `base` has its header changed by `edit`. */
const editedCase =
  (entries: Entry[], edit: (header: Buffer) => void) =>
  async (dir: string): Promise<Made> =>
    makeArtifact(dir, NAME, compress(await editedTar(base(entries), 3, edit), "zstd"));

const cases: Case[] = [
  {
    rule: "unsupported-header",
    title: "a pax global header whose path GNU tar would give to the next member (it lands in another layer)",
    member: "pax_global_header",
    make: editedCase(
      [
        {
          name: "pax_global_header",
          content: paxRecords({ path: "2024.01/compat/linux/x86_64/etc/injected" }),
        },
        { name: `${TOP_DIR}/etc/x`, content: "x\n" },
      ],
      (h) => {
        h[156] = 0x67; // g
      },
    ),
  },
  {
    rule: "unsupported-header",
    title: "a GNU long-name header (artifacts are pax)",
    member: "././@LongLink",
    make: editedCase(
      [
        { name: "././@LongLink", content: `${TOP_DIR}/etc/long\0` },
        { name: `${TOP_DIR}/etc/short`, content: "x\n" },
      ],
      (h) => {
        h[156] = 0x4c; // L
      },
    ),
  },
  {
    rule: "unsupported-header",
    title: "a directory with data (GNU tar reads the data as the next header, tar-stream skips it)",
    member: `${TOP_DIR}/var`,
    make: editedCase([{ name: `${TOP_DIR}/var`, content: "0".repeat(1024) }], (h) => {
      h[156] = 0x35; // 5
    }),
  },
  {
    rule: "unsupported-header",
    title: "a pax size on a symlink, hiding a setuid member from the verifier's reader (GNU tar extracts it)",
    member: `${TOP_DIR}/etc/link`,
    make: async (dir) => {
      const withoutEnd = (tar: Buffer) => tar.subarray(0, tar.length - 1024);
      const hidden = withoutEnd(
        await tarOf([{ name: `${TOP_DIR}/etc/hidden`, mode: 0o4755, content: "unverified\n" }]),
      );
      const head = withoutEnd(
        await tarOf(
          base([
            {
              name: `${TOP_DIR}/etc/link`,
              type: "symlink",
              linkname: "os-release",
              pax: { size: String(hidden.length) },
            },
          ]),
        ),
      );
      const tail = await tarOf([{ name: `${TOP_DIR}/etc/after`, content: "after\n" }]);
      return makeArtifact(dir, NAME, compress(Buffer.concat([head, hidden, tail]), "zstd"));
    },
  },
  {
    rule: "unsupported-header",
    title: "a setuid mode in GNU tar's obsolete base-64 (+nt = 04755; the verifier's reader sees no number)",
    member: `${TOP_DIR}/etc/suid`,
    make: editedCase([{ name: `${TOP_DIR}/etc/suid`, content: "x\n" }], (h) => {
      h.write("+nt\0\0\0\0\0", 100, 8, "latin1");
    }),
  },
  {
    rule: "top-dir-type",
    title: "the top dir as a symlink to the host (the layer, and any later delta, would land there)",
    member: TOP_DIR,
    make: async (dir) =>
      makeArtifact(
        dir,
        NAME,
        compress(await tarOf([{ name: TOP_DIR, type: "symlink", linkname: escapeDir }]), "zstd"),
      ),
  },
  {
    rule: "data-after-end",
    title: "members after the end-of-archive blocks (GNU tar stops there, other readers go on)",
    make: async (dir) =>
      makeArtifact(
        dir,
        NAME,
        compress(
          Buffer.concat([
            await tarOf(base([])),
            await tarOf([{ name: `${TOP_DIR}/etc/hidden`, content: "after the end\n" }]),
          ]),
          "zstd",
        ),
      ),
  },
  {
    rule: "non-normalised-name",
    title: "a member name that is not UTF-8",
    make: editedCase([{ name: `${TOP_DIR}/etc/caf_`, content: "x\n" }], (h) => {
      h[h.indexOf(0x5f)] = 0xe9; // `_` → a Latin-1 é
    }),
  },
  {
    rule: "outside-top-dir",
    title: "a member beside the layer, in another part of the repository",
    member: "2025.06/init/bashrc",
    make: tarCase([{ name: "2025.06/init/bashrc", content: "evil\n" }]),
  },
  {
    rule: "dot-dot",
    title: "a member that climbs out with ..",
    member: "../../escape-target/owned",
    make: tarCase([{ name: `${TOP_DIR}/../../../../../escape-target/owned`, content: "owned\n" }]),
  },
  {
    rule: "absolute-name",
    title: "an absolute member name",
    member: "/escape-target/absolute",
    make: async (dir) =>
      makeArtifact(
        dir,
        NAME,
        compress(await tarOf(base([{ name: join(escapeDir, "absolute"), content: "x\n" }])), "zstd"),
      ),
  },
  {
    rule: "symlink-escape",
    title: "a directory symlink to the host, then a file written through it",
    member: `${TOP_DIR}/etc/cron.d/job`,
    make: async (dir) =>
      makeArtifact(
        dir,
        NAME,
        compress(
          await tarOf(
            base([
              { name: `${TOP_DIR}/etc/cron.d`, type: "symlink", linkname: escapeDir },
              { name: `${TOP_DIR}/etc/cron.d/job`, content: "* * * * * root rm -rf /\n" },
            ]),
          ),
          "zstd",
        ),
      ),
  },
  {
    rule: "hardlink-outside",
    title: "a hard link to a host file",
    member: `${TOP_DIR}/etc/shadow-copy`,
    make: tarCase([{ name: `${TOP_DIR}/etc/shadow-copy`, type: "link", linkname: "/etc/shadow" }]),
  },
  {
    rule: "special-file",
    title: "a character device",
    member: `${TOP_DIR}/dev/mem`,
    make: tarCase([{ name: `${TOP_DIR}/dev/mem`, type: "character-device", devmajor: 1, devminor: 1 }]),
  },
  {
    rule: "special-file",
    title: "a fifo",
    member: `${TOP_DIR}/run/pipe`,
    make: tarCase([{ name: `${TOP_DIR}/run/pipe`, type: "fifo" }]),
  },
  {
    rule: "setuid",
    title: "a setuid-root shell",
    member: `${TOP_DIR}/bin/rootshell`,
    make: tarCase([{ name: `${TOP_DIR}/bin/rootshell`, mode: 0o4755, content: "#!/bin/sh\n" }]),
  },
  {
    rule: "top-dir-mismatch",
    title: "contents of another version than the name says",
    member: "2025.07/compat/linux/x86_64/etc/x",
    make: async (dir) =>
      makeArtifact(
        dir,
        NAME,
        compress(await tarOf([{ name: "2025.07/compat/linux/x86_64/etc/x", content: "x\n" }]), "zstd"),
      ),
  },
  {
    rule: "top-dir-mismatch",
    title: "an aarch64 layer in an x86_64 artifact",
    member: "2025.06/compat/linux/aarch64/",
    make: async (dir) =>
      makeArtifact(
        dir,
        NAME,
        compress(await tarOf([{ name: "2025.06/compat/linux/aarch64/", type: "directory" }]), "zstd"),
      ),
  },
  {
    rule: "checksum-mismatch",
    title: "a manifest whose sha256 is another artifact's",
    make: async (dir) =>
      makeArtifact(dir, NAME, compress(await tarOf(base([])), "zstd"), (m) => {
        m.sha256 = "0".repeat(64);
      }),
  },
  {
    rule: "signature",
    title: "a manifest changed after it was signed",
    publicKey: true,
    make: async (dir) => {
      const made = makeArtifact(dir, NAME, compress(await tarOf(base([])), "zstd"));
      const key = join(dir, "key");
      await generateKeyPair(key);
      const sig = await signBytes(readFileSync(made.manifestPath), `${key}.key`);
      writeFileSync(`${made.manifestPath}.sig`, JSON.stringify(sig));
      writeFileSync(
        made.manifestPath,
        readFileSync(made.manifestPath, "utf8").replace('"debian"', '"gentoo"'),
      );
      return made;
    },
  },
  {
    rule: "truncated-stream",
    title: "a zstd stream cut in half",
    make: async (dir) => {
      const full = compress(
        await tarOf(base([{ name: `${TOP_DIR}/big`, content: "z".repeat(300_000) }])),
        "zstd",
      );
      return makeArtifact(dir, NAME, full.subarray(0, Math.floor(full.length / 2)));
    },
  },
  {
    rule: "truncated-stream",
    title: "a complete zstd stream of a tar cut at a member boundary (no end-of-archive blocks)",
    make: async (dir) => {
      const tar = await tarOf(base([]));
      return makeArtifact(dir, NAME, compress(tar.subarray(0, tar.length - 1024), "zstd"));
    },
  },
  {
    rule: "corrupt-stream",
    title: "a gzip stream with flipped bytes",
    make: async (dir) => {
      const data = Buffer.from(
        compress(await tarOf(base([{ name: `${TOP_DIR}/f`, content: "q".repeat(50_000) }])), "gzip"),
      );
      for (let i = 40; i < 60; i++) data[i] = data[i]! ^ 0xff;
      return makeArtifact(dir, NAME.replace(".zst", ".gz"), data);
    },
  },
  {
    rule: "corrupt-stream",
    title: "a tar header whose checksum does not match",
    make: async (dir) => {
      const tar = Buffer.from(await tarOf(base([])));
      tar[512 + 10] = 0x41; // the second header's name
      return makeArtifact(dir, NAME, compress(tar, "zstd"));
    },
  },
  {
    rule: "compression-mismatch",
    title: "gzip data named .tar.zst",
    make: async (dir) => makeArtifact(dir, NAME, compress(await tarOf(base([])), "gzip")),
  },
  {
    rule: "unknown-type",
    title: "a contiguous-file member (a type GNU tar would extract, but artifacts never carry)",
    member: `${TOP_DIR}/etc/contig`,
    make: tarCase([{ name: `${TOP_DIR}/etc/contig`, type: "contiguous-file", content: "c\n" }]),
  },
  {
    rule: "unsupported-header",
    title: "a pax header with GNU sparse records",
    member: `${TOP_DIR}/etc/sparse`,
    make: tarCase([{ name: `${TOP_DIR}/etc/sparse`, content: "s\n", pax: { "GNU.sparse.major": "1" } }]),
  },
  {
    rule: "unsupported-header",
    title:
      "pax records named after Object's own members (constructor, __proto__: a lookup by key must not find them)",
    member: `${TOP_DIR}/etc/proto`,
    make: tarCase([
      {
        name: `${TOP_DIR}/etc/proto`,
        content: "p\n",
        pax: { constructor: "x", ["__proto__"]: "y", toString: "z" },
      },
    ]),
  },
  {
    rule: "duplicate-member",
    title: "the same file twice (the second silently wins on extraction)",
    member: `${TOP_DIR}/etc/os-release`,
    make: tarCase([{ name: `${TOP_DIR}/etc/os-release`, content: "NAME=evil\n" }]),
  },
  {
    rule: "non-normalised-name",
    title: "a name with an empty component",
    member: `${TOP_DIR}//etc/x`,
    make: tarCase([{ name: `${TOP_DIR}//etc/x`, content: "x\n" }]),
  },
  {
    rule: "cvmfscatalog-not-regular",
    title: "a .cvmfscatalog symlink (cvmfs_server ingest panics on it)",
    member: `${TOP_DIR}/.cvmfscatalog`,
    make: tarCase([{ name: `${TOP_DIR}/.cvmfscatalog`, type: "symlink", linkname: "/dev/null" }]),
  },
  {
    rule: "manifest-mismatch",
    title: "a manifest for another architecture",
    make: async (dir) =>
      makeArtifact(dir, NAME, compress(await tarOf(base([])), "zstd"), (m) => {
        m.arch = "aarch64";
        m.topDir = "2025.06/compat/linux/aarch64";
      }),
  },
  {
    rule: "approval-mismatch",
    title: "an artifact other than the approved one",
    approved: "a".repeat(64),
    make: tarCase([]),
  },
  {
    rule: "bad-deletion",
    title: "a delta that deletes outside the layer",
    member: "../../../../../etc",
    make: async (dir) =>
      makeArtifact(
        dir,
        NAME.replace(".tar.zst", ".delta.tar.zst"),
        compress(await tarOf(base([])), "zstd"),
        (m) => {
          m.delta = {
            base: { artifact: NAME, sha256: "b".repeat(64) },
            deletions: ["../../../../../etc"],
            patches: [],
          };
        },
      ),
  },
  {
    rule: "delta-patch",
    title: "a full artifact with members in the reserved .compat-delta/",
    member: `${TOP_DIR}/.compat-delta`,
    make: tarCase([
      { name: `${TOP_DIR}/.compat-delta/`, type: "directory" },
      { name: `${TOP_DIR}/.compat-delta/000001`, content: "patch\n" },
    ]),
  },
  {
    rule: "delta-patch",
    title: "a delta with a patch member its manifest does not list",
    member: `${TOP_DIR}/.compat-delta/000002`,
    make: deltaCase([{ name: `${TOP_DIR}/.compat-delta/000002`, content: "stowaway\n" }], []),
  },
  {
    rule: "symlink-escape",
    title: "a delta whose patch writes through a symlink to the host that the archive makes",
    member: "etc/cron.d/job",
    make: deltaCase(
      [{ name: `${TOP_DIR}/etc/cron.d`, type: "symlink", linkname: "/etc/cron.d" }],
      [patch({ path: "etc/cron.d/job", from: "etc/cron.d/job" })],
    ),
  },
  {
    rule: "setuid",
    title: "a delta whose patch makes a setuid-root file",
    member: "bin/su",
    make: deltaCase([], [patch({ path: "bin/su", from: "bin/su", mode: 0o4755 })]),
  },
  {
    rule: "delta-patch",
    title: "a patch that reads a file the delta neither keeps nor deletes (another path)",
    member: "usr/lib/libnew.so",
    make: deltaCase([], [patch({ path: "usr/lib/libnew.so", from: "etc/shadow" })]),
  },
  {
    rule: "artifact-name",
    title: "a file name that is not an artifact name",
    make: async (dir) => makeArtifact(dir, "layer.tar.zst", compress(await tarOf(base([])), "zstd")),
  },
];

describe("verify rejects the corpus, one rule each, and publishing it writes nothing", () => {
  it("covers at least 12 distinct rules", () => {
    expect(new Set(cases.map((c) => c.rule)).size).toBeGreaterThanOrEqual(12);
  });

  it("sees where GNU tar and the verifier's reader part ways, beyond the named rules", async () => {
    const c = cases.find((x) => x.title.startsWith("a pax size on a symlink"))!;
    const made = await c.make(join(work, "two-readers"));
    const report = await verifyArtifact(made.artifact);
    expect(report.violations.map((v) => v.message)).toContainEqual(
      expect.stringMatching(
        /^member 5: GNU tar reads ".*\/etc\/hidden", the verifier's reader ".*\/etc\/after"$/,
      ),
    );
  });

  for (const [i, c] of cases.entries()) {
    it(`${c.rule}: ${c.title}`, async () => {
      const dir = join(work, `case-${i}`);
      const made = await c.make(dir);
      const publicKeyPath = c.publicKey ? join(dir, "key.pub") : undefined;
      const report = await verifyArtifact(made.artifact, { publicKeyPath, approvedSha256: c.approved });
      expect(report.ok).toBe(false);
      const hit = report.violations.find((v) => v.rule === c.rule);
      expect(hit, JSON.stringify(report.violations)).toBeDefined();
      if (c.member) expect(hit?.member).toContain(c.member.replace(/^\.\.\/(\.\.\/)*/, ""));

      // Publishing it to a repository that already holds a layer changes nothing.
      const repo = join(dir, "repo");
      const layer = join(repo, "versions", TOP_DIR);
      mkdirSync(join(layer, "etc"), { recursive: true });
      writeFileSync(join(layer, "etc/os-release"), "NAME=published\n");
      const before = treeDigest(repo);
      const dirBefore = readdirSync(dir).sort();
      await expect(
        new LocalPublisher(repo).publish({
          artifact: made.artifact,
          publicKeyPath,
          approvedSha256: c.approved,
        }),
      ).rejects.toThrow();
      expect(treeDigest(repo)).toBe(before);
      expect(existsSync(join(repo, ".compat"))).toBe(false);
      expect(readdirSync(dir).sort()).toEqual(dirBefore);
      expect(existsSync(escapeDir)).toBe(false);
    });
  }
});
