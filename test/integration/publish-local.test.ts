/**
 * The local publisher on real trees: publish then rollback restores the previous layer exactly
 * (tree digests), deltas apply onto their base only, and a publish killed with SIGKILL at random
 * moments always leaves the complete old or the complete new layer, after which the next publish
 * or rollback works.
 */
import { execFileSync, spawn } from "node:child_process";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyArtifact } from "../../src/artifacts/verify.js";
import { LocalPublisher } from "../../src/publish/local.js";
import { compat, compatBin } from "../helpers/cli.js";
import { type HostileSet, makeHostileSet, snapshot } from "../helpers/hostile-deltas.js";
import { corruptPatchCopy, makeArtifactPair, TOP_DIR, treeDigest } from "../helpers/layer-tree.js";

let work: string;
let artifactA: string;
let artifactB: string;
let deltaAB: string;
let digestA: string;
let digestB: string;
let outside: string;
let hostile: HostileSet;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "compat-publish-"));
  ({ artifactA, digestA, artifactB, digestB, deltaAB } = await makeArtifactPair(work, {
    files: 1500,
    bigFileMiB: 6,
  }));
  hostile = await makeHostileSet(work);
  outside = hostile.outside;
}, 120_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A repository in `<work>/<name>` with the hostile set's base layer published. */
async function publishedHostileBase(name: string) {
  const repo = join(work, name);
  mkdirSync(repo);
  const pub = new LocalPublisher(repo);
  await pub.publish({ artifact: hostile.base });
  return { repo, pub, layer: join(repo, "versions", TOP_DIR) };
}

describe("local publisher", () => {
  it("publishes the artifact the layer already comes from as a no-op: no copy, no kept layer, no event", async () => {
    const repo = join(work, "repo-same");
    mkdirSync(repo);
    const pub = new LocalPublisher(repo);
    const first = await pub.publish({ artifact: artifactA });
    const again = await pub.publish({ artifact: artifactA });
    expect(again).toMatchObject({ method: "unchanged", backup: null, sha256: first.sha256 });
    expect(readdirSync(join(repo, "versions/2025.06/compat/linux"))).toEqual(["x86_64"]);
    expect((await pub.history()).map((e) => e.action)).toEqual(["publish"]);
    // after a rollback, the restored artifact is the current one
    await pub.publish({ artifact: artifactB });
    await pub.rollback(TOP_DIR);
    expect((await pub.publish({ artifact: artifactA })).method).toBe("unchanged");
    expect((await pub.publish({ artifact: artifactB })).backup).toBe(".x86_64-002");
  });

  it("publishes, keeps the previous layer as .<arch>-NNN, and rolls back exactly", async () => {
    const repo = join(work, "repo-rollback");
    mkdirSync(repo);
    const pub = new LocalPublisher(repo);
    const target = join(repo, "versions", TOP_DIR);
    const first = await pub.publish({ artifact: artifactA });
    expect(first).toMatchObject({ path: target, backup: null, method: "rename", kind: "full" });
    expect(treeDigest(target)).toBe(digestA);
    const second = await pub.publish({ artifact: artifactB });
    expect(second.backup).toBe(".x86_64-001");
    expect(treeDigest(target)).toBe(digestB);
    expect(treeDigest(join(repo, "versions/2025.06/compat/linux/.x86_64-001"))).toBe(digestA);

    const back = await pub.rollback(TOP_DIR);
    expect(treeDigest(target)).toBe(digestA);
    expect(back.restoredSha256).toBe(first.sha256);
    // Rolling back the rollback puts the newer layer back.
    await pub.rollback(TOP_DIR);
    expect(treeDigest(target)).toBe(digestB);

    const events = await pub.history();
    expect(events.map((e) => [e.action, e.artifact, e.sha256])).toEqual([
      ["publish", "dev-2025.06-compat-linux-x86_64-1750000000.tar.zst", first.sha256],
      ["publish", "dev-2025.06-compat-linux-x86_64-1750000100.tar.zst", second.sha256],
      ["rollback", "dev-2025.06-compat-linux-x86_64-1750000000.tar.zst", first.sha256],
      ["rollback", "dev-2025.06-compat-linux-x86_64-1750000100.tar.zst", second.sha256],
    ]);
    expect(events.every((e) => e.user && e.host && e.at)).toBe(true);
    // No staging or journal is left behind.
    expect(readdirSync(join(repo, "versions/2025.06/compat/linux")).sort()).toEqual([
      ".x86_64-001",
      "x86_64",
    ]);
    expect(existsSync(join(repo, ".compat/journal.json"))).toBe(false);
  });

  it("a journal or history edited on disk cannot make recovery or rollback touch anything outside the layer's place", async () => {
    const repo = join(work, "repo-state-edited");
    mkdirSync(repo);
    const pub = new LocalPublisher(repo);
    await pub.publish({ artifact: artifactA });
    await pub.publish({ artifact: artifactB });
    const victim = join(work, "state-victim");
    mkdirSync(join(victim, "sub"), { recursive: true });
    writeFileSync(join(victim, "sub", "canary"), "keep\n");
    const journal = join(repo, ".compat/journal.json");
    for (const j of [
      { id: "x", op: "publish", layer: TOP_DIR, phase: "staging", cleanup: victim },
      {
        id: "x",
        op: "publish",
        layer: TOP_DIR,
        phase: "staging",
        cleanup: join(repo, "versions/2025.06/compat/linux/x86_64"),
      },
      {
        id: "x",
        op: "publish",
        layer: TOP_DIR,
        phase: "swap",
        expectTargetIno: 1,
        moveAside: { from: victim, to: join(work, "moved") },
      },
    ]) {
      writeFileSync(journal, JSON.stringify(j));
      await expect(pub.rollback(TOP_DIR)).rejects.toThrow(
        /a journal of compat publish\) names .*, which is not 2025\.06\/compat\/linux\/x86_64's staging or kept layer/,
      );
    }
    rmSync(journal);
    // a kept layer's name in history.db that leads elsewhere
    const db = new Database(join(repo, ".compat/history.db"));
    db.prepare("UPDATE events SET backup = ? WHERE id = (SELECT max(id) FROM events)").run(
      "../../../../../../state-victim",
    );
    db.close();
    await expect(pub.rollback(TOP_DIR)).rejects.toThrow(/the kept layer named in the history/);
    expect(readFileSync(join(victim, "sub", "canary"), "utf8")).toBe("keep\n");
    expect(existsSync(join(work, "moved"))).toBe(false);
    expect(treeDigest(join(repo, "versions", TOP_DIR))).toBe(digestB);
  });

  it("applies a delta onto its base only, giving the same tree as the full artifact", async () => {
    const repo = join(work, "repo-delta");
    mkdirSync(repo);
    const pub = new LocalPublisher(repo);
    await expect(pub.publish({ artifact: deltaAB })).rejects.toThrow(/needs the layer it applies to/);
    await pub.publish({ artifact: artifactB });
    await expect(pub.publish({ artifact: deltaAB })).rejects.toThrow(
      /applies to dev-2025.06-compat-linux-x86_64-1750000000/,
    );
    await pub.publish({ artifact: artifactA });
    const applied = await pub.publish({ artifact: deltaAB });
    expect(applied).toMatchObject({ kind: "delta", method: "exchange" });
    expect(treeDigest(join(repo, "versions", TOP_DIR))).toBe(digestB);
    await pub.rollback(TOP_DIR);
    expect(treeDigest(join(repo, "versions", TOP_DIR))).toBe(digestA);
  });

  it("chains deltas: one made from the full artifact a published delta produced applies on top of it", async () => {
    const repo = join(work, "repo-chain");
    mkdirSync(repo);
    const pub = new LocalPublisher(repo);
    await pub.publish({ artifact: artifactA });
    await pub.publish({ artifact: deltaAB });
    // C: B with one more change, as a full artifact and as a delta from B.
    const prefix = join(work, "chain/versions", TOP_DIR);
    mkdirSync(join(prefix, ".."), { recursive: true });
    execFileSync("cp", ["-a", join(repo, "versions", TOP_DIR), prefix]);
    writeFileSync(join(prefix, "usr/bin/tool"), "#!/bin/sh\necho tool 3\n");
    const { packLayer } = await import("../../src/artifacts/pack.js");
    const layerId = { stack: "dev", version: "2025.06", os: "linux", arch: "x86_64" as const };
    const outDir = join(work, "chain/out");
    const deltaBC = (
      await packLayer({ ...layerId, prefix, outDir, epoch: 1_750_000_400, deltaFrom: artifactB })
    ).artifact;
    const applied = await pub.publish({ artifact: deltaBC });
    expect(applied.kind).toBe("delta");
    expect(treeDigest(join(repo, "versions", TOP_DIR))).toBe(treeDigest(prefix));
    const events = await pub.history();
    expect(events.map((e) => e.treeSha256)).toEqual([
      expect.stringMatching(/^[0-9a-f]{64}$/),
      JSON.parse(readFileSync(`${deltaBC}.manifest.json`, "utf8")).delta.base.treeSha256,
      JSON.parse(readFileSync(`${deltaBC}.manifest.json`, "utf8")).delta.treeSha256,
    ]);
  });

  it("applies binary patches: in place and from a renamed file, byte-identical to the full artifact", async () => {
    const m = JSON.parse(readFileSync(`${deltaAB}.manifest.json`, "utf8"));
    expect(m.delta.patches.map((p: { path: string; from: string }) => [p.path, p.from])).toEqual([
      ["usr/lib/libbig.so", "usr/lib/libbig.so"],
      ["usr/lib/libver.so.1.2.4", "usr/lib/libver.so.1.2.3"],
    ]);
    // The 6 MiB library travels as a patch of a few KiB.
    expect(m.size).toBeLessThan(64 << 10);
    const repo = join(work, "repo-patch");
    mkdirSync(repo);
    const pub = new LocalPublisher(repo);
    await pub.publish({ artifact: artifactA });
    await pub.publish({ artifact: deltaAB });
    const layer = join(repo, "versions", TOP_DIR);
    expect(treeDigest(layer)).toBe(digestB);
    // The patch directory is gone, and so is the renamed file's old version.
    expect(existsSync(join(layer, ".compat-delta"))).toBe(false);
    expect(existsSync(join(layer, "usr/lib/libver.so.1.2.3"))).toBe(false);
    expect(statSync(join(layer, "usr/lib/libbig.so")).mode & 0o7777).toBe(0o755);
  });

  it("refuses a delta whose base file differs from the published one, and a corrupt patch, changing nothing", async () => {
    const repo = join(work, "repo-refuse");
    mkdirSync(repo);
    const pub = new LocalPublisher(repo);
    await pub.publish({ artifact: artifactA });
    const layer = join(repo, "versions", TOP_DIR);
    const parent = join(repo, "versions/2025.06/compat/linux");
    const listing = () => readdirSync(parent).sort();

    // Someone changed the published library behind compat's back: its sha256 is not the base's.
    const lib = join(layer, "usr/lib/libbig.so");
    const bytes = readFileSync(lib);
    bytes.writeUInt8(bytes.readUInt8(100) ^ 1, 100);
    writeFileSync(lib, bytes);
    const before = treeDigest(layer);
    const names = listing();
    await expect(pub.publish({ artifact: deltaAB })).rejects.toThrow(
      /does not apply.*usr\/lib\/libbig.so: its base file usr\/lib\/libbig.so has sha256 [0-9a-f]{64}, but the delta was made against/,
    );
    expect(treeDigest(layer)).toBe(before);
    expect(listing()).toEqual(names);
    bytes.writeUInt8(bytes.readUInt8(100) ^ 1, 100);
    writeFileSync(lib, bytes);

    // A patch whose bytes were damaged (the archive and manifest agree, so verify passes).
    const dir = join(work, "corrupt");
    mkdirSync(dir);
    const corrupt = corruptPatchCopy(deltaAB, dir);
    expect((await verifyArtifact(corrupt)).ok).toBe(true);
    await expect(pub.publish({ artifact: corrupt })).rejects.toThrow(/corrupt patch/);
    expect(treeDigest(layer)).toBe(digestA);
    expect(listing()).toEqual(names);

    // A manifest whose result sha256 is not what the patch makes.
    const lying = join(work, "lying");
    mkdirSync(lying);
    execFileSync("cp", [deltaAB, lying]);
    const copy = join(lying, basename(deltaAB));
    const m = JSON.parse(readFileSync(`${deltaAB}.manifest.json`, "utf8"));
    m.delta.patches[1].sha256 = "0".repeat(64);
    writeFileSync(`${copy}.manifest.json`, JSON.stringify(m));
    await expect(pub.publish({ artifact: copy })).rejects.toThrow(
      /libver.so.1.2.4: the patched file has sha256 [0-9a-f]{64}, the manifest says 0{64} \(corrupt patch\)/,
    );
    expect(treeDigest(layer)).toBe(digestA);
    expect(listing()).toEqual(names);

    // And the real delta still applies afterwards.
    await pub.publish({ artifact: deltaAB });
    expect(treeDigest(layer)).toBe(digestB);
  });

  it("refuses a delta that would reach through a symlink of the published layer, changing nothing", async () => {
    const { repo, pub, layer } = await publishedHostileBase("repo-symlinks");
    const parent = join(repo, "versions/2025.06/compat/linux");
    const before = {
      outside: snapshot(outside),
      layer: treeDigest(layer),
      names: readdirSync(parent).sort(),
    };
    const unchanged = () => {
      expect(snapshot(outside)).toBe(before.outside);
      expect(treeDigest(layer)).toBe(before.layer);
      expect(readdirSync(parent).sort()).toEqual(before.names);
    };
    // Each passes verify: only the published layer knows `abs` is a symlink.
    for (const a of [hostile.throughMember, hostile.patchOntoSymlink, hostile.deleteThrough])
      expect((await verifyArtifact(a)).ok).toBe(true);

    await expect(pub.publish({ artifact: hostile.throughMember })).rejects.toThrow(/nothing was published/);
    await pub
      .publish({ artifact: hostile.throughMember })
      .catch((e) =>
        expect(e.details).toEqual([
          `[symlink-escape] abs/evil: reached through abs -> ${outside}, a symlink of the published layer`,
        ]),
      );
    unchanged();
    await expect(pub.publish({ artifact: hostile.patchOntoSymlink })).rejects.toMatchObject({
      details: [expect.stringMatching(/^\[symlink-escape\] abs: the patch would replace a symlink/)],
    });
    unchanged();
    await expect(pub.publish({ artifact: hostile.deleteThrough })).rejects.toMatchObject({
      details: [expect.stringMatching(/^\[symlink-escape\] abs\/victim: deletion reached through abs ->/)],
    });
    unchanged();
    expect((await pub.history()).length).toBe(1);

    // A symlink the delta deletes first is no way out: the new directory is made in the layer.
    await pub.publish({ artifact: hostile.symlinkBecomesDir });
    expect(snapshot(outside)).toBe(before.outside);
    expect(lstatSync(join(layer, "abs")).isDirectory()).toBe(true);
    expect(readFileSync(join(layer, "abs/inside"), "utf8")).toBe("inside\n");
  });

  it("refuses a delta onto a layer that is itself a symlink, and a full artifact whose top dir is not a directory", async () => {
    const { pub, layer } = await publishedHostileBase("repo-layer-symlink");
    const elsewhere = join(work, "elsewhere");
    renameSync(layer, elsewhere);
    symlinkSync(elsewhere, layer);
    const digest = treeDigest(elsewhere);
    await expect(pub.publish({ artifact: hostile.harmless })).rejects.toThrow(
      /refusing to change .*x86_64: .* is a symlink, not the layer directory/,
    );
    expect(treeDigest(elsewhere)).toBe(digest);
    expect(lstatSync(layer).isSymbolicLink()).toBe(true);
    rmSync(layer);
    renameSync(elsewhere, layer);
    await pub.publish({ artifact: hostile.harmless });
    expect(readFileSync(join(layer, "new.txt"), "utf8")).toBe("new\n");

    // Published, such a layer would alias the outside directory (verify refuses it; the publisher would too, after extracting).
    const outsideBefore = snapshot(outside);
    const digestNow = treeDigest(layer);
    await expect(pub.publish({ artifact: hostile.topDirSymlink })).rejects.toMatchObject({
      details: [expect.stringMatching(/^\[top-dir-type\] .*not a directory/)],
    });
    expect(lstatSync(layer).isDirectory()).toBe(true);
    expect(treeDigest(layer)).toBe(digestNow);
    expect(snapshot(outside)).toBe(outsideBefore);
  });

  it("survives SIGKILL at random moments: always the whole old or new layer, and the next command works", async () => {
    const repo = join(work, "repo-crash");
    mkdirSync(repo);
    const target = join(repo, "versions", TOP_DIR);
    const run = (args: string[]) => compat(args);
    expect(run(["publish", artifactA, "--to", `local:${repo}`, "-q"]).status).toBe(0);

    // How long an undisturbed publish takes, to spread the kills over it.
    const t0 = Date.now();
    expect(run(["publish", artifactB, "--to", `local:${repo}`, "-q"]).status).toBe(0);
    let window = (Date.now() - t0) * 1.2;
    let current = digestB;
    const seen = { old: 0, new: 0 };

    for (let i = 0; i < 50; i++) {
      const next = current === digestA ? artifactB : artifactA;
      const nextDigest = current === digestA ? digestB : digestA;
      const child = spawn(process.execPath, [compatBin, "publish", next, "--to", `local:${repo}`, "-q"], {
        stdio: "ignore",
      });
      const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
      await new Promise((r) => setTimeout(r, Math.random() * window));
      child.kill("SIGKILL");
      const code = await exited;

      expect(existsSync(target), `iteration ${i}: the layer is missing`).toBe(true);
      const now = treeDigest(target);
      expect([current, nextDigest], `iteration ${i}: a mixed layer`).toContain(now);
      // Spread the kills over the whole publish even when the machine is busier than when it was
      // timed: a kill that came too early widens the window, one that came after the swap narrows it.
      if (now === current && code !== 0) {
        seen.old++;
        window *= 1.3;
      } else {
        seen.new++;
        window *= 0.8;
      }
      current = now;

      if (i % 5 === 4) {
        // The next command recovers from whatever the kill left and works.
        if (i % 10 === 4) {
          const before = current;
          const r = run(["rollback", "--to", `local:${repo}`, "-q"]);
          expect(r.status, r.stderr).toBe(0);
          current = treeDigest(target);
          expect(current).not.toBe(before);
        } else {
          const r = run([
            "publish",
            current === digestA ? artifactB : artifactA,
            "--to",
            `local:${repo}`,
            "-q",
          ]);
          expect(r.status, r.stderr).toBe(0);
          current = treeDigest(target);
        }
        expect([digestA, digestB]).toContain(current);
        expect(existsSync(join(repo, ".compat/journal.json"))).toBe(false);
        expect(
          readdirSync(join(repo, "versions/2025.06/compat/linux")).filter((n) => n.includes("staging")),
        ).toEqual([]);
      }
    }
    // The kills landed both before and after the swap.
    expect(seen.old).toBeGreaterThan(0);
    expect(seen.new).toBeGreaterThan(0);
    const r = run(["history", "--to", `local:${repo}`, "--json"]);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).events.length).toBeGreaterThan(10);
  }, 600_000);
});
