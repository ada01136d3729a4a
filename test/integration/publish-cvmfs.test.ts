/**
 * The cvmfs publisher against a stand-in cvmfs_server (test/helpers/cvmfs-standin.ts): the exact
 * command sequence of a first publish, a replacement, a delta, a rollback and an ingest, and its
 * handling of cvmfs 2.12's exit statuses. The file operations in between (mv, rm, tar -x, test, ls)
 * are the real tools on a directory standing for /cvmfs. The ssh transport runs through a real
 * OpenSSH sshd on a localhost port.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { CvmfsPublisher } from "../../src/publish/cvmfs.js";
import { LocalHost, SshHost } from "../../src/publish/host.js";
import { makeStandIn, type StandIn } from "../helpers/cvmfs-standin.js";
import { type HostileSet, makeHostileSet, snapshot } from "../helpers/hostile-deltas.js";
import { corruptPatchCopy, makeArtifactPair, TOP_DIR, treeDigest } from "../helpers/layer-tree.js";

const REPO = "software.example.org";
let work: string;
let artifactA: string;
let artifactB: string;
let deltaAB: string;
let digestA: string;
let digestB: string;
let standIn: StandIn;
let caseDir: string;
let counter = 0;
let outside: string;
let hostile: HostileSet;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "compat-cvmfs-"));
  ({ artifactA, digestA, artifactB, digestB, deltaAB } = await makeArtifactPair(work, {
    files: 50,
    bigFileMiB: 1,
  }));
  hostile = await makeHostileSet(work);
  outside = hostile.outside;
}, 120_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

beforeEach(() => {
  caseDir = join(work, `case-${++counter}`);
  standIn = makeStandIn(caseDir, REPO);
  process.env.PATH = `${standIn.binDir}:${process.env
    .PATH!.split(":")
    .filter((p) => !p.includes("compat-cvmfs-"))
    .join(":")}`;
});

const publisher = (opts: { ingest?: boolean; catalog?: boolean } = {}) =>
  new CvmfsPublisher({
    repository: REPO,
    host: new LocalHost(),
    stateDir: join(caseDir, "state"),
    cvmfsRoot: standIn.cvmfsRoot,
    catalog: opts.catalog ?? false,
    ingest: opts.ingest ?? false,
  });

const layerPath = () => join(standIn.cvmfsRoot, REPO, "versions", TOP_DIR);
const subcommands = () =>
  standIn.calls().map((c) => c.filter((a) => a !== "-m" && !a.startsWith("compat: ")).join(" "));

describe("cvmfs publisher: command sequences", () => {
  it("publishes a new layer in one transaction", async () => {
    const r = await publisher().publish({ artifact: artifactA });
    expect(subcommands()).toEqual([`transaction ${REPO}`, `publish ${REPO}`]);
    expect(r).toMatchObject({ method: "transaction", backup: null, path: layerPath() });
    expect(treeDigest(layerPath())).toBe(digestA);
    expect(standIn.transactionOpen()).toBe(false);
    const message = standIn.calls()[1]!;
    expect(message[1]).toBe("-m");
    expect(message[2]).toContain(r.sha256);
  });

  it("replaces a layer in one transaction, keeping the old one as .<arch>-NNN, and rolls back", async () => {
    const p = publisher({ catalog: true });
    await p.publish({ artifact: artifactA });
    const r = await p.publish({ artifact: artifactB });
    expect(subcommands()).toEqual([
      `transaction ${REPO}`,
      `publish ${REPO}`,
      `transaction ${REPO}`,
      `publish ${REPO}`,
    ]);
    expect(r.backup).toBe(".x86_64-001");
    expect(existsSync(join(layerPath(), ".cvmfscatalog"))).toBe(true);
    rmSync(join(layerPath(), ".cvmfscatalog"));
    expect(treeDigest(layerPath())).toBe(digestB);
    const old = join(standIn.cvmfsRoot, REPO, "versions/2025.06/compat/linux/.x86_64-001");
    rmSync(join(old, ".cvmfscatalog"));
    expect(treeDigest(old)).toBe(digestA);

    const back = await p.rollback(TOP_DIR);
    expect(subcommands().slice(4)).toEqual([`transaction ${REPO}`, `publish ${REPO}`]);
    expect(treeDigest(layerPath())).toBe(digestA);
    expect(back.keptAs).toMatch(/\.x86_64-002$/);
    expect((await p.history()).map((e) => e.action)).toEqual(["publish", "publish", "rollback"]);
  });

  it("publishes the artifact the layer already comes from as a no-op: no transaction, no kept layer", async () => {
    const p = publisher();
    await p.publish({ artifact: artifactA });
    const again = await p.publish({ artifact: artifactA });
    expect(again).toMatchObject({ method: "unchanged", backup: null });
    expect(subcommands()).toEqual([`transaction ${REPO}`, `publish ${REPO}`]);
    expect((await p.history()).map((e) => e.action)).toEqual(["publish"]);
  });

  it("applies a delta in one transaction: deletions removed, entries extracted", async () => {
    const p = publisher();
    await p.publish({ artifact: artifactA });
    const r = await p.publish({ artifact: deltaAB });
    expect(r).toMatchObject({ kind: "delta", backup: null });
    expect(subcommands()).toEqual([
      `transaction ${REPO}`,
      `publish ${REPO}`,
      `transaction ${REPO}`,
      `publish ${REPO}`,
    ]);
    expect(treeDigest(layerPath())).toBe(digestB);
    // Its binary patches were applied in the transaction's tree and left nothing behind.
    expect(JSON.parse(readFileSync(`${deltaAB}.manifest.json`, "utf8")).delta.patches).toHaveLength(2);
    expect(existsSync(join(layerPath(), ".compat-delta"))).toBe(false);
    await expect(p.rollback(TOP_DIR)).rejects.toThrow(/nothing to roll back/);
  });

  it("ingests a layer that does not exist yet, never with --delete, and replaces an existing one in a transaction", async () => {
    const p = publisher({ ingest: true });
    const r = await p.publish({ artifact: artifactA });
    expect(r.method).toBe("ingest");
    // ingest does not rebuild nested catalogs: an empty transaction's publish does
    expect(subcommands()).toEqual([
      `ingest --tar_file - --base_dir versions ${REPO}`,
      `transaction ${REPO}`,
      `publish ${REPO}`,
    ]);
    expect(treeDigest(layerPath())).toBe(digestA);
    const again = await p.publish({ artifact: artifactB });
    expect(again.method).toBe("transaction");
    expect(standIn.calls().flat()).not.toContain("--delete");
    expect(treeDigest(layerPath())).toBe(digestB);
  });
});

describe("cvmfs publisher: failures", () => {
  it("stops hard when a transaction is already open (exit 17), never joining or aborting it", async () => {
    standIn.openTransaction();
    await expect(publisher().publish({ artifact: artifactA })).rejects.toThrow(
      /already has an open transaction.*exit 17/,
    );
    expect(subcommands()).toEqual([`transaction ${REPO}`]);
    expect(standIn.transactionOpen()).toBe(true);
    expect(existsSync(layerPath())).toBe(false);
  });

  it("aborts with -f when publish fails, leaving the repository as it was", async () => {
    const p = publisher();
    await p.publish({ artifact: artifactA });
    standIn.script("publish", 1);
    await expect(p.publish({ artifact: artifactB })).rejects.toThrow(
      /cvmfs_server failed with exit status 1/,
    );
    expect(subcommands().slice(2)).toEqual([`transaction ${REPO}`, `publish ${REPO}`, `abort -f ${REPO}`]);
    expect(standIn.transactionOpen()).toBe(false);
    expect(treeDigest(layerPath())).toBe(digestA);
    expect(existsSync(join(standIn.cvmfsRoot, REPO, "versions/2025.06/compat/linux/.x86_64-001"))).toBe(
      false,
    );
    expect((await p.history()).length).toBe(1);
  });

  it("aborts when the artifact changes under it after verification (the decompressor's exit status)", async () => {
    const p = publisher();
    await p.publish({ artifact: artifactA });
    const copy = join(caseDir, "dev-2025.06-compat-linux-x86_64-1750000100.tar.zst");
    execFileSync("cp", [artifactB, `${artifactB}.manifest.json`, caseDir]);
    standIn.script("transaction", 0, `truncate -s 5000 '${copy}'`);
    await expect(p.publish({ artifact: copy })).rejects.toThrow(/changed since it was verified/);
    expect(subcommands().slice(2)).toEqual([`transaction ${REPO}`, `abort -f ${REPO}`]);
    expect(treeDigest(layerPath())).toBe(digestA);
  });

  it("aborts when tar fails inside the transaction (its exit status)", async () => {
    const versions = join(standIn.cvmfsRoot, REPO, "versions");
    // At `transaction`, the repository's versions/ becomes a place no directory can be made in.
    standIn.script("transaction", 0, `rm -rf '${versions}' && ln -s /proc/self/fdinfo '${versions}'`);
    await expect(publisher().publish({ artifact: artifactA })).rejects.toThrow(
      /tar failed with exit status 2/,
    );
    expect(subcommands()).toEqual([`transaction ${REPO}`, `abort -f ${REPO}`]);
    expect(standIn.transactionOpen()).toBe(false);
  });

  it("accepts abort -f finding no transaction (exit 22) and still reports the original failure", async () => {
    standIn.script("publish", 1);
    standIn.script("abort", 22);
    await expect(publisher().publish({ artifact: artifactA })).rejects.toThrow(/exit status 1/);
    expect(subcommands()).toEqual([`transaction ${REPO}`, `publish ${REPO}`, `abort -f ${REPO}`]);
  });

  it("does not abort after a failed ingest (ingest aborts itself; an open transaction is someone else's)", async () => {
    standIn.openTransaction();
    await expect(publisher({ ingest: true }).publish({ artifact: artifactA })).rejects.toThrow(
      /cvmfs_server failed with exit status 1/,
    );
    expect(subcommands()).toEqual([`ingest --tar_file - --base_dir versions ${REPO}`]);
    expect(standIn.transactionOpen()).toBe(true);
  });

  it("reports an ingest whose nested-catalog publish fails (EESSI's script ignores it): published, recorded, exit non-zero with the commands to finish", async () => {
    standIn.script("publish", 1);
    const p = publisher({ ingest: true });
    await expect(p.publish({ artifact: artifactA })).rejects.toThrow(
      /was ingested and is published, but the nested catalogs were not regenerated/,
    );
    expect(subcommands()).toEqual([
      `ingest --tar_file - --base_dir versions ${REPO}`,
      `transaction ${REPO}`,
      `publish ${REPO}`,
      `abort -f ${REPO}`,
    ]);
    expect(treeDigest(layerPath())).toBe(digestA);
    expect((await p.history(TOP_DIR)).map((e) => e.action)).toEqual(["publish"]);
  });

  it("aborts when a patch's base file is not the one the delta was made against (changed behind compat's back)", async () => {
    const p = publisher();
    await p.publish({ artifact: artifactA });
    const lib = join(layerPath(), "usr/lib/libbig.so");
    const bytes = readFileSync(lib);
    bytes.writeUInt8(bytes.readUInt8(7) ^ 1, 7);
    writeFileSync(lib, bytes);
    const before = treeDigest(layerPath());
    await expect(p.publish({ artifact: deltaAB })).rejects.toThrow(
      /its base file usr\/lib\/libbig.so has sha256 [0-9a-f]{64}, but the delta was made against/,
    );
    expect(subcommands().slice(2)).toEqual([`transaction ${REPO}`, `abort -f ${REPO}`]);
    expect(standIn.transactionOpen()).toBe(false);
    expect(treeDigest(layerPath())).toBe(before);
    expect((await p.history()).length).toBe(1);
  });

  it("aborts on a corrupt patch (zstd's exit status), leaving the repository as it was", async () => {
    const p = publisher();
    await p.publish({ artifact: artifactA });
    const dir = join(caseDir, "corrupt");
    mkdirSync(dir);
    const corrupt = corruptPatchCopy(deltaAB, dir);
    await expect(p.publish({ artifact: corrupt })).rejects.toThrow(
      /zstd could not apply the patch.*corrupt patch/,
    );
    expect(subcommands().slice(2)).toEqual([`transaction ${REPO}`, `abort -f ${REPO}`]);
    expect(treeDigest(layerPath())).toBe(digestA);
  });

  it("refuses a delta with patches before any cvmfs_server command when the host's zstd is too old", async () => {
    const p = publisher();
    await p.publish({ artifact: artifactA });
    // zstd 1.4.4 (RHEL 8's) has no --patch-from and cannot be installed here: a wrapper of the real zstd
    // answers --version as it would (this host also decompresses the artifact with it).
    const old = join(standIn.binDir, "zstd");
    writeFileSync(
      old,
      '#!/bin/sh\n[ "$1" = --version ] && { echo "*** zstd command line interface 64-bits v1.4.4, by Yann Collet ***"; exit 0; }\nexec /usr/bin/zstd "$@"\n',
    );
    chmodSync(old, 0o755);
    await expect(p.publish({ artifact: deltaAB })).rejects.toThrow(
      /has zstd 1\.4\.4; applying them needs zstd ≥ 1\.4\.5/,
    );
    expect(subcommands()).toEqual([`transaction ${REPO}`, `publish ${REPO}`]);
    expect(treeDigest(layerPath())).toBe(digestA);
  });

  it("refuses a delta whose base is not the published layer, before opening a transaction", async () => {
    const p = publisher();
    await p.publish({ artifact: artifactB });
    await expect(p.publish({ artifact: deltaAB })).rejects.toThrow(
      /applies to dev-2025.06-compat-linux-x86_64-1750000000/,
    );
    expect(subcommands()).toEqual([`transaction ${REPO}`, `publish ${REPO}`]);
  });

  it("refuses a delta that would reach through a symlink of the published layer, before opening a transaction", async () => {
    const p = publisher();
    await p.publish({ artifact: hostile.base });
    const before = { outside: snapshot(outside), layer: treeDigest(layerPath()) };
    const refused = async (artifact: string, detail: RegExp) => {
      await expect(p.publish({ artifact })).rejects.toMatchObject({
        details: [expect.stringMatching(detail)],
      });
      expect(subcommands()).toEqual([`transaction ${REPO}`, `publish ${REPO}`]);
      expect(snapshot(outside)).toBe(before.outside);
      expect(treeDigest(layerPath())).toBe(before.layer);
    };
    await refused(
      hostile.throughMember,
      /^\[symlink-escape\] abs\/evil: reached through abs -> .*outside, a symlink of the published layer$/,
    );
    await refused(hostile.patchOntoSymlink, /^\[symlink-escape\] abs: the patch would replace a symlink/);
    await refused(hostile.deleteThrough, /^\[symlink-escape\] abs\/victim: deletion reached through abs ->/);
    expect((await p.history()).length).toBe(1);
    // A symlink the delta deletes first is no way out.
    await p.publish({ artifact: hostile.symlinkBecomesDir });
    expect(snapshot(outside)).toBe(before.outside);
    expect(readFileSync(join(layerPath(), "abs/inside"), "utf8")).toBe("inside\n");
  });

  it("refuses a delta onto a layer that is itself a symlink, and a full artifact whose top dir is not a directory", async () => {
    const p = publisher();
    await p.publish({ artifact: hostile.base });
    const elsewhere = join(caseDir, "elsewhere");
    renameSync(layerPath(), elsewhere);
    symlinkSync(elsewhere, layerPath());
    const digest = treeDigest(elsewhere);
    await expect(p.publish({ artifact: hostile.harmless })).rejects.toThrow(
      /refusing to change .*x86_64: .* is a symlink, not the layer directory/,
    );
    expect(subcommands()).toEqual([`transaction ${REPO}`, `publish ${REPO}`]);
    expect(treeDigest(elsewhere)).toBe(digest);
    rmSync(layerPath());
    renameSync(elsewhere, layerPath());

    const outsideBefore = snapshot(outside);
    await expect(p.publish({ artifact: hostile.topDirSymlink })).rejects.toMatchObject({
      details: [expect.stringMatching(/^\[top-dir-type\] .*not a directory/)],
    });
    expect(subcommands()).toEqual([`transaction ${REPO}`, `publish ${REPO}`]);
    expect(standIn.transactionOpen()).toBe(false);
    expect(lstatSync(layerPath()).isDirectory()).toBe(true);
    expect(treeDigest(layerPath())).toBe(digest);
    expect(snapshot(outside)).toBe(outsideBefore);
  });

  it("refuses an artifact other than the approved one before any command", async () => {
    await expect(
      publisher().publish({ artifact: artifactA, approvedSha256: "f".repeat(64) }),
    ).rejects.toMatchObject({
      details: [expect.stringMatching(/^\[approval-mismatch\]/)],
    });
    expect(standIn.calls()).toEqual([]);
  });
});

describe("cvmfs publisher over ssh (a real sshd on localhost)", () => {
  let sshd: ChildProcess | undefined;
  let sshConfig: string;

  beforeAll(async () => {
    const dir = join(work, "ssh");
    mkdirSync(dir, { recursive: true });
    mkdirSync("/run/sshd", { recursive: true });
    const keygen = (file: string) =>
      execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", file]);
    keygen(join(dir, "host_key"));
    keygen(join(dir, "user_key"));
    const port = 20000 + Math.floor(Math.random() * 20000);
    // The stand-in's bin dir for this describe block is fixed: the remote PATH comes from authorized_keys.
    const remoteBin = join(work, "ssh-standin");
    writeFileSync(
      join(dir, "authorized_keys"),
      `environment="PATH=${remoteBin}/bin:/usr/bin:/bin" ${readFileSync(join(dir, "user_key.pub"), "utf8")}`,
    );
    writeFileSync(
      join(dir, "sshd_config"),
      [
        `ListenAddress 127.0.0.1:${port}`,
        `HostKey ${join(dir, "host_key")}`,
        `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
        "PermitRootLogin prohibit-password",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PermitUserEnvironment yes",
        "StrictModes no",
        "UsePAM no",
        "PidFile none",
        "",
      ].join("\n"),
    );
    writeFileSync(
      join(dir, "known_hosts"),
      `[127.0.0.1]:${port} ${readFileSync(join(dir, "host_key.pub"), "utf8").split(" ").slice(0, 2).join(" ")}\n`,
    );
    sshConfig = join(dir, "ssh_config");
    writeFileSync(
      sshConfig,
      [
        "Host stratum0",
        "  HostName 127.0.0.1",
        `  Port ${port}`,
        "  User root",
        `  IdentityFile ${join(dir, "user_key")}`,
        "  IdentitiesOnly yes",
        `  UserKnownHostsFile ${join(dir, "known_hosts")}`,
        "  StrictHostKeyChecking yes",
        "",
      ].join("\n"),
    );
    sshd = spawn("/usr/sbin/sshd", ["-D", "-e", "-f", join(dir, "sshd_config")], { stdio: "ignore" });
    for (let i = 0; i < 100; i++) {
      const up = await new Promise<boolean>((r) => {
        const s = connect(port, "127.0.0.1", () => {
          s.end();
          r(true);
        });
        s.on("error", () => r(false));
      });
      if (up) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error("sshd did not start");
  });
  afterAll(() => {
    sshd?.kill();
  });

  it("runs the same sequence through ssh, streaming the verified tar to the remote tar", async () => {
    standIn = makeStandIn(join(work, "ssh-standin"), REPO);
    const p = new CvmfsPublisher({
      repository: REPO,
      host: new SshHost("stratum0", sshConfig),
      hostName: "stratum0",
      stateDir: join(work, "ssh-state"),
      cvmfsRoot: standIn.cvmfsRoot,
      catalog: false,
      ingest: false,
    });
    await p.publish({ artifact: artifactA });
    const r = await p.publish({ artifact: artifactB });
    expect(r.target).toBe(`cvmfs:${REPO}@stratum0`);
    expect(r.backup).toBe(".x86_64-001");
    // Every cvmfs_server call came in over ssh.
    expect(subcommands()).toEqual([
      `ssh transaction ${REPO}`,
      `ssh publish ${REPO}`,
      `ssh transaction ${REPO}`,
      `ssh publish ${REPO}`,
    ]);
    expect(standIn.calls().every((c) => c[0]!.startsWith("ssh "))).toBe(true);
    expect(treeDigest(layerPath())).toBe(digestB);

    // The published layer's symlinks are listed on the publishing host, over ssh.
    await p.publish({ artifact: hostile.base });
    const outsideBefore = snapshot(outside);
    await expect(p.publish({ artifact: hostile.throughMember })).rejects.toMatchObject({
      details: [expect.stringMatching(/^\[symlink-escape\] abs\/evil: reached through abs ->/)],
    });
    expect(subcommands().slice(4)).toEqual([`ssh transaction ${REPO}`, `ssh publish ${REPO}`]);
    expect(snapshot(outside)).toBe(outsideBefore);

    standIn.openTransaction();
    await expect(p.publish({ artifact: artifactA })).rejects.toThrow(/exit 17/);
    expect(standIn.transactionOpen()).toBe(true);
  });
});
