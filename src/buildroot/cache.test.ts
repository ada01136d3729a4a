import { createHash } from "node:crypto";
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ValidationError } from "../errors.js";
import { BuildRootCache, type EntryRecord } from "./cache.js";
import { reuse } from "./ensure.js";
import { buildRootIdentity } from "./identity.js";

const ID = "a".repeat(64);
let dir: string;
let cache: BuildRootCache;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "compat-brcache-"));
  cache = new BuildRootCache(join(dir, "state"));
  await cache.open();
  mkdirSync(cache.entryDir("x86_64", ID));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("markUse (F2)", () => {
  it("makes and re-times its own last-used stamp", async () => {
    await cache.markUse("x86_64", ID);
    expect(await cache.lastUsed("x86_64", ID)).toBeInstanceOf(Date);
    await cache.markUse("x86_64", ID);
    await cache.releaseUse(ID);
  });

  it("never writes through a planted last-used link (dangling or not)", async () => {
    const stamp = join(cache.entryDir("x86_64", ID), "last-used");
    const target = join(dir, "created-through-link");
    symlinkSync(target, stamp);
    await expect(cache.markUse("x86_64", ID)).rejects.toThrow(/last-used is not a regular file/);
    expect(existsSync(target)).toBe(false);
    expect(readlinkSync(stamp)).toBe(target);

    writeFileSync(target, "keep");
    const before = lstatSync(target).mtimeMs;
    await new Promise((r) => setTimeout(r, 20));
    await expect(cache.markUse("x86_64", ID)).rejects.toThrow(/not a regular file/);
    expect(lstatSync(target).mtimeMs).toBe(before);
  });
});

describe("a cache others could change is refused (F1)", () => {
  it("refuses an arch dir, users/ or locks/ writable by group or others, naming the path and the fix", async () => {
    for (const d of ["x86_64", "users", "locks", "requests", ""]) {
      const path = join(cache.base, d);
      const before = lstatSync(path).mode & 0o7777;
      chmodSync(path, before | 0o002);
      const e = await cache.open().then(
        () => undefined,
        (x: unknown) => x,
      );
      expect(e, d).toBeInstanceOf(ValidationError);
      expect((e as ValidationError).exitCode).toBe(3);
      expect((e as ValidationError).message).toContain(
        `${path.replace(/\/$/, "")} is writable by group or others`,
      );
      expect((e as ValidationError).hint).toContain(`chmod go-w ${path.replace(/\/$/, "")}`);
      chmodSync(path, before);
    }
    await cache.open();
  });

  it("makes its directories without group/other write whatever the umask", async () => {
    const old = process.umask(0);
    try {
      const other = new BuildRootCache(join(dir, "state2"));
      await other.open();
      expect(lstatSync(join(other.base, "x86_64")).mode & 0o777).toBe(0o755);
      expect(lstatSync(join(other.base, "users")).mode & 0o777).toBe(0o700);
    } finally {
      process.umask(old);
    }
  });

  it.runIf(process.geteuid?.() === 0)(
    "refuses an entry or a tree owned by another user, removing nothing",
    async () => {
      const entry = cache.entryDir("x86_64", ID);
      mkdirSync(join(entry, "root", "usr"), { recursive: true });
      chownSync(entry, 65534, 65534);
      const e = (await cache.readEntry("x86_64", ID).catch((x: unknown) => x)) as ValidationError;
      expect(e.exitCode).toBe(3);
      expect(e.message).toContain(`${entry} is owned by uid 65534 (mode 0755)`);
      expect(e.hint).toContain(`chown 0 ${entry}`);
      chownSync(entry, 0, 0);
      chownSync(join(entry, "root", "usr"), 65534, 65534);
      await expect(cache.readEntry("x86_64", ID)).rejects.toThrow(`${entry}/root/usr is owned by uid 65534`);
      chownSync(join(entry, "root", "usr"), 0, 0);
      chmodSync(join(entry, "root"), 0o775);
      await expect(cache.readEntry("x86_64", ID)).rejects.toThrow(
        `${entry}/root is writable by group or others`,
      );
      chmodSync(join(entry, "root"), 0o755);
      mkdirSync(join(entry, "root", "tmp"), { mode: 0o1777 });
      chmodSync(join(entry, "root", "tmp"), 0o1777); // a root's /tmp is sticky and world-writable: fine
      expect(await cache.readEntry("x86_64", ID)).toHaveProperty("problem"); // no identity file
      expect(existsSync(entry)).toBe(true);
    },
  );

  it("refuses a users/<identity> dir of another mode", async () => {
    mkdirSync(cache.usersDir(ID), { mode: 0o777 });
    chmodSync(cache.usersDir(ID), 0o777);
    await expect(cache.markUse("x86_64", ID)).rejects.toThrow(/writable by group or others/);
  });
});

describe("use marks across hosts (F6)", () => {
  it("keeps another host's mark as live; removes a dead local one; names marks by pid and host", async () => {
    const users = cache.usersDir(ID);
    mkdirSync(users, { mode: 0o700 });
    writeFileSync(join(users, "4242@node7.json"), JSON.stringify({ pid: 4242, start: "1", host: "node7" }));
    writeFileSync(join(users, "4243@here.json"), JSON.stringify({ pid: 4243, start: "1", host: hostname() }));
    expect(await cache.liveUsers(ID)).toEqual([4242]);
    expect(existsSync(join(users, "4242@node7.json"))).toBe(true);
    expect(existsSync(join(users, "4243@here.json"))).toBe(false);
    await cache.markUse("x86_64", ID);
    expect((await cache.liveUsers(ID)).sort()).toEqual([4242, process.pid].sort());
    await cache.releaseUse(ID);
    expect(await cache.liveUsers(ID)).toEqual([4242]);
  });
});

describe("a request index entry is not a proof (F12)", () => {
  const status = (names: string[]) =>
    names
      .map((n) => `Package: ${n}\nStatus: install ok installed\nVersion: 1.0-1\nArchitecture: amd64\n`)
      .join("\n");
  /** A sound entry (record and dpkg status agree) made for request `madeFor`. */
  const soundEntry = (names: string[], madeFor: string) => {
    const packages = names.map((name) => ({ name, version: "1.0-1", arch: "amd64" }));
    const identity = buildRootIdentity({ arch: "x86_64", suite: "bookworm", packages });
    const dir = cache.entryDir("x86_64", identity);
    mkdirSync(join(dir, "root/var/lib/dpkg"), { recursive: true });
    writeFileSync(join(dir, "root/var/lib/dpkg/status"), status(names));
    const record: EntryRecord = {
      format: 1,
      identity,
      arch: "x86_64",
      suite: "bookworm",
      packages,
      createdAt: "2026-01-01T00:00:00.000Z",
      sourceDateEpoch: 1,
      requestKey: madeFor,
      sizeBytes: 1,
      command: "mmdebstrap",
    };
    writeFileSync(join(dir, "buildroot.json"), JSON.stringify(record));
    // what dpkg --verify reads: each package's file list and md5sums
    mkdirSync(join(dir, "root/var/lib/dpkg/info"), { recursive: true });
    mkdirSync(join(dir, "root/var/lib/dpkg/updates"), { recursive: true });
    mkdirSync(join(dir, "root/usr/bin"), { recursive: true });
    for (const n of names) {
      writeFileSync(join(dir, "root/usr/bin", n), `#!/bin/sh\necho ${n}\n`);
      writeFileSync(join(dir, "root/var/lib/dpkg/info", `${n}.list`), `/usr\n/usr/bin\n/usr/bin/${n}\n`);
      const md5 = createHash("md5").update(`#!/bin/sh\necho ${n}\n`).digest("hex");
      writeFileSync(join(dir, "root/var/lib/dpkg/info", `${n}.md5sums`), `${md5}  usr/bin/${n}\n`);
    }
    return identity;
  };
  const spec = { suite: "bookworm", packages: ["gcc"] };
  const key = "1".repeat(64);

  it("uses the root made for the request, not one made for another (with extra packages)", async () => {
    const other = soundEntry(["gcc", "libc6", "evil-diversions"], "2".repeat(64));
    await cache.writeRequest(key, { identity: other, arch: "x86_64", sourceDateEpoch: 1, at: "now" });
    const notes: string[] = [];
    expect(await reuse(cache, key, spec, "x86_64", (m) => notes.push(m))).toBeUndefined();
    expect(notes.join("\n")).toMatch(/was made for another request/);
    expect(await cache.readRequest(key)).toBeUndefined(); // the index entry is dropped

    const mine = soundEntry(["gcc", "libc6"], key);
    await cache.writeRequest(key, { identity: mine, arch: "x86_64", sourceDateEpoch: 1, at: "now" });
    expect((await reuse(cache, key, spec, "x86_64", () => {}))?.identity).toBe(mine);
    await cache.releaseUse(mine);
  });

  it("checks the tree's files against its packages on first reuse and on --verify (F1)", async () => {
    const id = soundEntry(["gcc", "make"], key);
    await cache.writeRequest(key, { identity: id, arch: "x86_64", sourceDateEpoch: 1, at: "now" });
    const make = join(cache.entryDir("x86_64", id), "root/usr/bin/make");
    writeFileSync(make, "#!/bin/sh\necho TROJAN make\n");
    const e = (await reuse(cache, key, spec, "x86_64", () => {}).catch((x: unknown) => x)) as ValidationError;
    expect(e).toBeInstanceOf(ValidationError);
    expect(e.exitCode).toBe(3);
    expect(e.message).toMatch(/1 file\(s\) that differ from what their packages installed/);
    expect(e.details).toEqual(["/usr/bin/make"]);
    expect(existsSync(make)).toBe(true); // nothing removed: evidence stays
    // mended: verified once, then reused without the check; --verify checks again
    writeFileSync(make, "#!/bin/sh\necho make\n");
    expect((await reuse(cache, key, spec, "x86_64", () => {}))?.identity).toBe(id);
    writeFileSync(make, "#!/bin/sh\necho TROJAN make\n");
    expect((await reuse(cache, key, spec, "x86_64", () => {}))?.identity).toBe(id);
    await expect(reuse(cache, key, spec, "x86_64", () => {}, undefined, true)).rejects.toThrow(
      /differ from what their packages installed/,
    );
    await cache.releaseUse(id);
  });

  it("uses a root make noted as answering this request too", async () => {
    const shared = soundEntry(["gcc", "make"], "3".repeat(64));
    await cache.writeRequest(key, { identity: shared, arch: "x86_64", sourceDateEpoch: 1, at: "now" });
    await cache.markAnswers("x86_64", shared, key);
    expect((await reuse(cache, key, spec, "x86_64", () => {}))?.identity).toBe(shared);
    await cache.releaseUse(shared);
  });
});
