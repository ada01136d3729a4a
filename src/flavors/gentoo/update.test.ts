/**
 * The gentoo update mode cannot run Portage here (no Gentoo mirrors), so, as for the build stages,
 * everything around emerge runs for real: the published layer's artifact unpacked by the real
 * local publisher, a real overlayfs mount at the prefix, emerge called in the sandbox at the real
 * prefix as the build user (a fixture standing in for emerge, doing to the vardb and files what an
 * openssl upgrade does), the merged view copied out, and what a resumed run after a kill or a
 * reboot finds. The stages shared with the build (repos, overlays, checks, record) are tested in
 * index.test.ts.
 */
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { treeDigest } from "../../../test/helpers/layer-tree.js";
import { packLayer } from "../../artifacts/pack.js";
import { InputError } from "../../errors.js";
import { mountsUnder, unmountUnder } from "../../exec/mounts.js";
import { isMountPoint } from "../../exec/overlay.js";
import { createStageContext } from "../../pipeline/build.js";
import { parseSpec } from "../../spec/load.js";
import { resolveLayer } from "../../spec/resolve.js";
import { ScratchRepository } from "../../update/scratch-repo.js";
import type { BuildStage, FlavorUpdateRequest, StageContext } from "../types.js";
import { api, BUILD_UID } from "./index.js";
import { emergeUpdateArgs, GENTOO_UPDATE_STAGES } from "./update.js";

const isRoot = process.getuid?.() === 0;
const testdata = join(import.meta.dirname, "testdata");
const TOP = "2026.06/compat/linux/x86_64";
let scratch: string;
let base: { artifact: string; sha256: string };
let baseDigest: string;

const spec = `
repository: software.example.org
stack: eessi
version: "2026.06"
arches: [x86_64]
flavor: gentoo
gentoo:
  repository: { commit: ${"a".repeat(40)} }
  bootstrap: { requiredSpace: "1 MB" }
`;
const layer = resolveLayer(parseSpec(spec, "gentoo.yaml").spec, "x86_64");

/** A small published Gentoo Prefix: a vardb with openssl-1.1.1w and zlib, libraries, emerge's stand-in. */
function makePublishedLayer(prefix: string): void {
  const put = (rel: string, text: string, mode = 0o644) => {
    mkdirSync(join(prefix, rel, ".."), { recursive: true });
    writeFileSync(join(prefix, rel), text);
    chmodSync(join(prefix, rel), mode);
  };
  for (const [cpv, slot] of [
    ["dev-libs/openssl-1.1.1w", "0/1.1"],
    ["sys-libs/zlib-1.3.1", "0/1"],
  ] as const) {
    put(`var/db/pkg/${cpv}/SLOT`, `${slot}\n`);
    put(`var/db/pkg/${cpv}/repository`, "gentoo\n");
  }
  put("usr/lib64/libssl.so.1.1", "libssl 1.1.1w\n");
  put("usr/lib64/libz.so.1", "zlib 1.3.1\n");
  put("etc/portage/make.conf/0001.conf", 'USE="-X"\n');
  mkdirSync(join(prefix, "usr/bin"), { recursive: true });
  copyFileSync(join(testdata, "update-emerge.sh"), join(prefix, "usr/bin/emerge"));
  chmodSync(join(prefix, "usr/bin/emerge"), 0o755);
}

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), "compat-gentoo-update-"));
  chmodSync(scratch, 0o755);
  const prefix = join(scratch, "published/versions", TOP);
  makePublishedLayer(prefix);
  baseDigest = treeDigest(prefix);
  const packed = await packLayer({
    prefix,
    stack: "eessi",
    version: "2026.06",
    os: "linux",
    arch: "x86_64",
    outDir: join(scratch, "artifacts"),
    epoch: 1_780_000_000,
  });
  base = { artifact: packed.artifact, sha256: packed.manifest.sha256 };
}, 60_000);

afterAll(async () => {
  await unmountUnder(scratch);
  rmSync(scratch, { recursive: true, force: true });
});

function request(packages?: string[]): FlavorUpdateRequest {
  return {
    packages,
    base: {
      ...base,
      unpack: async (dir, signal) => {
        const repo = new ScratchRepository(dir);
        await repo.publish(base.artifact, base.sha256, signal);
        return repo.layerPath(TOP);
      },
    },
  };
}

function context(name: string): StageContext {
  const workDir = join(scratch, name);
  mkdirSync(join(workDir, "prefix"), { recursive: true });
  return createStageContext({
    layer,
    specFile: join(testdata, "gentoo.yaml"),
    specText: spec,
    specHash: "0".repeat(64),
    runId: `test-${name}`,
    runDir: workDir,
    prefixDir: join(workDir, "prefix"),
    workDir,
    startedAt: new Date(),
    log: new PassThrough().resume(),
    signal: new AbortController().signal,
  });
}

const stage = (stages: BuildStage[], id: string) => stages.find((s) => s.id === id)!;

describe("gentoo update mode", () => {
  it("emerges the atoms the update is for with --oneshot --update, or @world with --deep --newuse", () => {
    expect(emergeUpdateArgs(["dev-libs/openssl", ">=sys-libs/zlib-1.3.1:0"])).toEqual([
      "--oneshot",
      "--update",
      "--verbose",
      "dev-libs/openssl",
      ">=sys-libs/zlib-1.3.1:0",
    ]);
    expect(emergeUpdateArgs(undefined)).toEqual(["--update", "--deep", "--newuse", "--verbose", "@world"]);
    for (const bad of [
      "-oProxyCommand=sh",
      "--ask",
      "!dev-libs/openssl",
      "openssl",
      "a b/c",
      "dev-libs/openssl-1.0:*:",
    ])
      expect(() => emergeUpdateArgs([bad]), bad).toThrow(InputError);
  });

  it("needs a published layer to emerge over", () => {
    expect(() => api.update(layer, {})).toThrow(/nothing is published on the target yet/);
    expect(() => api.update(layer, { ...request(), packages: ["-X"] })).toThrow(/not a Portage atom/);
    // the build's stages around emerge, without the bootstrap, in EESSI's order
    expect(api.update(layer, request()).map((s) => s.id)).toEqual(GENTOO_UPDATE_STAGES.map((s) => s.id));
  });

  it.runIf(isRoot)(
    "runs emerge on an overlay over the published layer and copies the merged view out as the candidate",
    async () => {
      const ctx = context("update");
      const stages = api.update(layer, request(["dev-libs/openssl"]));
      for (const id of ["preflight", "base", "overlay"]) await stage(stages, id).run(ctx);
      expect(isMountPoint(ctx.prefixDir)).toBe(true);
      const lower = join(ctx.workDir, "base/versions", TOP);
      expect(treeDigest(lower)).toBe(baseDigest);

      await stage(stages, "update").run(ctx);
      const calls = readFileSync(join(ctx.prefixDir, "emerge-calls.txt"), "utf8");
      expect(calls).toBe(`emerge --oneshot --update --verbose dev-libs/openssl (uid=${BUILD_UID})\n`);
      // the published layer underneath is untouched; the upper dir holds the change, a deletion as a whiteout
      expect(treeDigest(lower)).toBe(baseDigest);
      const upper = join(ctx.workDir, "upper");
      expect(lstatSync(join(upper, "usr/lib64/libssl.so.1.1")).isCharacterDevice()).toBe(true);
      expect(readFileSync(join(upper, "usr/lib64/libssl.so.3"), "utf8")).toBe("libssl 3.0.13\n");
      expect(existsSync(join(upper, "usr/lib64/libz.so.1"))).toBe(false);

      await stage(stages, "materialize").run(ctx);
      expect(mountsUnder(ctx.workDir)).toEqual([]);
      const tree = ctx.prefixDir;
      expect(readdirSync(join(tree, "var/db/pkg/dev-libs"))).toEqual(["openssl-3.0.13"]);
      expect(existsSync(join(tree, "usr/lib64/libssl.so.1.1"))).toBe(false);
      expect(readFileSync(join(tree, "usr/lib64/libz.so.1"), "utf8")).toBe("zlib 1.3.1\n");
      expect(readFileSync(join(tree, "etc/portage/make.conf/0001.conf"), "utf8")).toBe('USE="-X"\n');
      for (const gone of ["upper", "overlay-work", "base"])
        expect(existsSync(join(ctx.workDir, gone))).toBe(false);
      // materialize again (a resumed run): nothing to do, the tree stays
      await stage(stages, "materialize").run(ctx);
      expect(readdirSync(join(tree, "var/db/pkg/dev-libs"))).toEqual(["openssl-3.0.13"]);
      expect(await api.installed(tree, layer)).toEqual([
        { name: "dev-libs/openssl", version: "3.0.13", slot: "0" },
        { name: "sys-libs/zlib", version: "1.3.1", slot: "0" },
      ]);
    },
    120_000,
  );

  it.runIf(isRoot)(
    "a resumed run mounts the overlay again (after a reboot) and never writes into the bare mount point",
    async () => {
      const ctx = context("resume");
      const first = api.update(layer, request(["dev-libs/openssl"]));
      for (const id of ["base", "overlay"]) await stage(first, id).run(ctx);
      // the machine rebooted: the mount is gone, the stages before are done
      execFileSync("umount", [ctx.prefixDir]);
      expect(readdirSync(ctx.prefixDir)).toEqual([]);
      const resumed = api.update(layer, request(["dev-libs/openssl"]));
      await stage(resumed, "update").run(ctx);
      expect(isMountPoint(ctx.prefixDir)).toBe(true);
      // emerge saw the published layer (it removed openssl-1.1.1w's entry from it)
      expect(readdirSync(join(ctx.prefixDir, "var/db/pkg/dev-libs"))).toEqual(["openssl-3.0.13"]);
      // a kill half way through the copy: materialize again from the start
      mkdirSync(join(ctx.workDir, "result/partial"), { recursive: true });
      await stage(resumed, "materialize").run(ctx);
      expect(existsSync(join(ctx.prefixDir, "partial"))).toBe(false);
      expect(readdirSync(join(ctx.prefixDir, "var/db/pkg/dev-libs"))).toEqual(["openssl-3.0.13"]);
      expect(mountsUnder(ctx.workDir)).toEqual([]);
    },
    120_000,
  );

  it.runIf(isRoot)("refuses an overlay path that mount options cannot carry", async () => {
    const ctx = context("bad,name");
    const stages = api.update(layer, request());
    await stage(stages, "base").run(ctx);
    await expect(stage(stages, "overlay").run(ctx)).rejects.toThrow(/holds a ',', ':', '\\' or a newline/);
    expect(isMountPoint(ctx.prefixDir)).toBe(false);
  });
});
