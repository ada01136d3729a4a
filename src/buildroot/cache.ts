/**
 * The build-root cache under `<stateDir>/buildroots/`:
 *
 *   <arch>/<identity>/root/            the tree (the sandbox's `/`)
 *   <arch>/<identity>/buildroot.json   the identity file: written last, before the directory is
 *                                      renamed into place, so a killed creation leaves no entry
 *   <arch>/<identity>/last-used        touched at each use
 *   <arch>/<identity>/verified         its files were checked against its packages (verify.ts)
 *   <arch>/<identity>/for/<key>        another request this root answers (same packages; make notes it)
 *   requests/<request key>.json        what was asked → the identity it gave (index.ts's fast path)
 *   users/<identity>/<pid>@<host>.json processes using a root (prune leaves those alone)
 *   locks/<request key>.lock           held while a root is made (one maker per request)
 *   locks/cache.lock                   held for the short steps that look at and change entries
 *   tmp/<request key>-<pid>/           a root being made
 *   trash/                             entries on their way out
 *
 * Everything read here may have been planted or damaged: a directory must be a real directory (a
 * symbolic link in place of one is refused), a file a regular file of sane size read without
 * following a link, and an entry counts only when its identity file, its name and a re-hash of both
 * the recorded package list and the tree's own dpkg database all agree.
 */
import { randomBytes } from "node:crypto";
import { constants as fsConstants } from "node:fs";
import { type FileHandle, lstat, mkdir, open, readdir, rename, rm, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { readDpkgStatus } from "../debian/status.js";
import { IoError, ValidationError } from "../errors.js";
import { ARCHES, type Arch, isArch } from "../layer/id.js";
import { readRegularFile } from "../paths/regular-file.js";
import { holderAlive, thisHolder } from "../pipeline/lock.js";
import { buildRootIdentity, buildRootPackages, IDENTITY_RE } from "./identity.js";
import type { BuildRootPackage } from "./types.js";

export const ENTRY_FILE = "buildroot.json";
export const ROOT_DIR = "root";
const LAST_USED = "last-used";
/** Present once the tree's files were checked against its packages (verify.ts). */
export const VERIFIED = "verified";
/** `<pid>@<host>.json`: the host in the name too, so equal pids on two hosts never share a mark. */
const USE_MARK_RE = /^[1-9][0-9]{0,9}(@[A-Za-z0-9._-]{1,64})?\.json$/;
const useMark = () =>
  `${process.pid}@${hostname()
    .replace(/[^A-Za-z0-9._-]/g, "_")
    .slice(0, 64)}.json`;
const MAX_RECORD_BYTES = 16 * 1024 * 1024;
export const REQUEST_KEY_RE = IDENTITY_RE;

/** The identity file of an entry. */
export interface EntryRecord {
  format: number;
  identity: string;
  arch: Arch;
  suite: string;
  mirror?: string;
  packages: BuildRootPackage[];
  createdAt: string;
  sourceDateEpoch: number;
  requestKey: string;
  /** Bytes of the tree's files when it was made. */
  sizeBytes: number;
  /** The mmdebstrap command it was made with. */
  command: string;
}

/** A request file: what a request key was answered with. */
export interface RequestRecord {
  identity: string;
  arch: Arch;
  sourceDateEpoch: number;
  at: string;
}

export class BuildRootCache {
  readonly base: string;
  constructor(stateDir: string) {
    this.base = join(stateDir, "buildroots");
  }

  entryDir(arch: Arch, identity: string): string {
    return join(this.base, arch, identity);
  }
  requestFile(key: string): string {
    return join(this.base, "requests", `${key}.json`);
  }
  usersDir(identity: string): string {
    return join(this.base, "users", identity);
  }
  lockFile(name: string): string {
    return join(this.base, "locks", `${name}.lock`);
  }
  tmpDir(key: string): string {
    return join(this.base, "tmp", `${key}-${process.pid}`);
  }

  /** Make (or check) the cache's directories; a symlink or a file in place of one is refused. */
  async open(): Promise<void> {
    const stateDir = join(this.base, "..");
    await mkdir(stateDir, { recursive: true, mode: 0o755 });
    await safeDir(stateDir, { stickyOk: true });
    await realDir(this.base, true);
    for (const d of ["requests", "trash", ...ARCHES]) await realDir(join(this.base, d), true);
    for (const d of ["users", "locks", "tmp"]) await realDir(join(this.base, d), true, 0o700);
  }

  /** The entry's record when every check holds, else why not (`absent` when there is nothing). */
  async readEntry(arch: Arch, identity: string): Promise<EntryRecord | { problem: string } | "absent"> {
    const dir = this.entryDir(arch, identity);
    if (!IDENTITY_RE.test(identity)) {
      const there = await lstat(dir).catch(() => undefined);
      return there ? { problem: `${dir}: not a build root's name (64 hex digits)` } : "absent";
    }
    let st: Awaited<ReturnType<typeof lstat>>;
    try {
      st = await lstat(dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return "absent";
      throw e;
    }
    if (!st.isDirectory()) return { problem: `${dir} is not a directory (a ${kindOf(st)})` };
    await safeDir(dir);
    const root = join(dir, ROOT_DIR);
    const rst = await lstat(root).catch(() => undefined);
    if (rst?.isDirectory()) await safeTree(root);
    let record: EntryRecord;
    try {
      record = JSON.parse(
        await readRegularFile(join(dir, ENTRY_FILE), MAX_RECORD_BYTES, { noFollow: true }),
      ) as EntryRecord;
    } catch (e) {
      return { problem: `no readable identity file ${ENTRY_FILE} (${codeOf(e)}): a creation was killed` };
    }
    const problem = recordProblem(record, arch, identity);
    if (problem) return { problem: `${ENTRY_FILE}: ${problem}` };
    if (!rst?.isDirectory()) return { problem: `${root} is missing or not a directory` };
    let installed: BuildRootPackage[];
    try {
      installed = buildRootPackages((await readDpkgStatus(root)).packages);
    } catch (e) {
      return { problem: (e as Error).message };
    }
    const held = buildRootIdentity({ arch, suite: record.suite, packages: installed });
    if (held !== identity)
      return {
        problem: `the tree's dpkg database hashes to ${held.slice(0, 12)}, not to its identity ${identity.slice(0, 12)} (the tree was changed)`,
      };
    return record;
  }

  /** Every entry directory, by arch (names only; readEntry says which are sound). */
  async entries(): Promise<Array<{ arch: Arch; identity: string }>> {
    const out: Array<{ arch: Arch; identity: string }> = [];
    for (const arch of ARCHES)
      for (const name of await readdir(join(this.base, arch)).catch(() => [] as string[]))
        out.push({ arch, identity: name });
    return out;
  }

  async readRequest(key: string): Promise<RequestRecord | undefined> {
    try {
      const r = JSON.parse(
        await readRegularFile(this.requestFile(key), 64 * 1024, { noFollow: true }),
      ) as RequestRecord;
      if (typeof r?.identity !== "string" || !IDENTITY_RE.test(r.identity) || !isArch(r.arch))
        return undefined;
      if (typeof r.sourceDateEpoch !== "number") return undefined;
      return r;
    } catch {
      return undefined; // absent, planted (a link, a FIFO) or damaged: as if never asked
    }
  }

  async writeRequest(key: string, r: RequestRecord): Promise<void> {
    await writeAtomically(this.requestFile(key), `${JSON.stringify(r, null, 2)}\n`);
  }

  async requests(): Promise<Array<{ key: string; record: RequestRecord | undefined }>> {
    const names = await readdir(join(this.base, "requests")).catch(() => [] as string[]);
    const out: Array<{ key: string; record: RequestRecord | undefined }> = [];
    for (const n of names) {
      const key = n.replace(/\.json$/, "");
      if (REQUEST_KEY_RE.test(key) && n.endsWith(".json"))
        out.push({ key, record: await this.readRequest(key) });
    }
    return out;
  }

  async removeRequest(key: string): Promise<void> {
    await rm(this.requestFile(key), { force: true });
  }

  /** Move an entry (or a leftover) out of the way at once, and delete it unless a live process uses it. */
  async discard(path: string, identity?: string): Promise<void> {
    const trash = join(this.base, "trash", `${identity ?? "tmp"}-${randomBytes(6).toString("hex")}`);
    try {
      await rename(path, trash);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
      throw e;
    }
    if (identity && (await this.liveUsers(identity)).length > 0) return; // prune removes it later
    await rm(trash, { recursive: true, force: true });
  }

  /** Delete what is in the trash and no live process uses. */
  async emptyTrash(): Promise<number> {
    const dir = join(this.base, "trash");
    let n = 0;
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      const identity = name.split("-")[0]!;
      if (IDENTITY_RE.test(identity) && (await this.liveUsers(identity)).length > 0) continue;
      await rm(join(dir, name), { recursive: true, force: true });
      n++;
    }
    return n;
  }

  /**
   * Whether the entry answers request `key`: it was made for it (its record's requestKey), or make
   * found the same packages already cached for another request and noted this one in the entry's
   * `for/` (a request file alone is an index anyone with the file could point anywhere).
   */
  async answers(record: EntryRecord, key: string): Promise<boolean> {
    if (!REQUEST_KEY_RE.test(key)) return false;
    if (record.requestKey === key) return true;
    const st = await lstat(join(this.entryDir(record.arch, record.identity), "for", key)).catch(
      () => undefined,
    );
    return st?.isFile() === true;
  }

  /** Note that the entry also answers request `key` (answers()). */
  async markAnswers(arch: Arch, identity: string, key: string): Promise<void> {
    const dir = join(this.entryDir(arch, identity), "for");
    await realDir(dir, true);
    await touchStamp(join(dir, key));
  }

  async verified(arch: Arch, identity: string): Promise<boolean> {
    const st = await lstat(join(this.entryDir(arch, identity), VERIFIED)).catch(() => undefined);
    return st?.isFile() === true;
  }

  async markVerified(arch: Arch, identity: string): Promise<void> {
    await touchStamp(join(this.entryDir(arch, identity), VERIFIED));
  }

  /** Record that this process uses the root, and when it was last used. */
  async markUse(arch: Arch, identity: string): Promise<void> {
    const dir = this.usersDir(identity);
    await realDir(dir, true, 0o700);
    const me = thisHolder();
    await writeAtomically(join(dir, useMark()), JSON.stringify(me));
    await touchStamp(join(this.entryDir(arch, identity), LAST_USED));
  }

  async releaseUse(identity: string): Promise<void> {
    await rm(join(this.usersDir(identity), useMark()), { force: true });
  }

  /** Pids of live processes that use the root; stale marks (dead or reused pids) are removed. */
  async liveUsers(identity: string): Promise<number[]> {
    const dir = this.usersDir(identity);
    const live: number[] = [];
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      // only `<pid>.json` files are marks (markUse writes nothing else); anything else someone put
      // there is no user and is left alone, never an error
      if (!USE_MARK_RE.test(name)) continue;
      const file = join(dir, name);
      if (!(await lstat(file).catch(() => undefined))?.isFile()) continue;
      let holder: { pid?: unknown; start?: unknown; host?: unknown } | undefined;
      try {
        holder = JSON.parse(await readRegularFile(file, 4096, { noFollow: true }));
      } catch {
        holder = undefined;
      }
      // a mark of another host (a state dir on a shared file system) is live: never judged here
      if (holder && holderAlive(holder)) live.push(Number.parseInt(name, 10));
      else await rm(file, { force: true });
    }
    return live;
  }

  async lastUsed(arch: Arch, identity: string): Promise<Date | undefined> {
    const st = await lstat(join(this.entryDir(arch, identity), LAST_USED)).catch(() => undefined);
    return st?.isFile() ? st.mtime : undefined;
  }
}

function recordProblem(r: EntryRecord, arch: Arch, identity: string): string | undefined {
  if (typeof r !== "object" || r === null) return "not a JSON object";
  if (r.identity !== identity)
    return `names identity ${String(r.identity).slice(0, 80)}, not its directory's`;
  if (r.arch !== arch) return `names arch ${String(r.arch).slice(0, 40)}, not ${arch}`;
  if (typeof r.suite !== "string" || !Array.isArray(r.packages)) return "has no suite or package list";
  for (const p of r.packages)
    if (typeof p?.name !== "string" || typeof p.version !== "string" || typeof p.arch !== "string")
      return "has a package that is not {name, version, arch}";
  if (buildRootIdentity({ arch, suite: r.suite, packages: r.packages }) !== identity)
    return "its package list does not hash to its identity (the file was changed)";
  return undefined;
}

/**
 * `path` as a real directory of this user that nobody else may write: made (with `mode`) when
 * `create` and missing; a link, a file, another owner or group/other write there is refused.
 */
export async function realDir(path: string, create: boolean, mode = 0o755): Promise<void> {
  if (create)
    await mkdir(path, { mode }).catch((e: NodeJS.ErrnoException) =>
      e.code === "EEXIST" ? undefined : Promise.reject(e),
    );
  await safeDir(path);
}

/**
 * Refuse (exit 3) a directory of the cache that someone other than this user could change: not a
 * real directory, not owned by the effective uid, or writable by group or others (ssh's
 * StrictModes rule). Whoever can write the cache can put a trojaned compiler in a build root that
 * is then reused as sound, so the check comes before anything in it is trusted. `stickyOk`: a
 * sticky world-writable directory owned by this user or root (the state dir's parent /tmp, a
 * root's /tmp) is fine, since others cannot rename or remove what is in it.
 */
export async function safeDir(path: string, how: { stickyOk?: boolean } = {}): Promise<void> {
  const st = await lstat(path);
  if (!st.isDirectory())
    throw new ValidationError(`${path} is a ${kindOf(st)}, not a directory compat made: refused`, {
      hint: "something other than compat put it there; remove it (compat makes the directory again)",
    });
  const uid = process.geteuid?.() ?? st.uid;
  const sticky = (st.mode & 0o1000) !== 0;
  const othersWrite = (st.mode & 0o022) !== 0 && !(how.stickyOk && sticky);
  const mode = (st.mode & 0o7777).toString(8).padStart(4, "0");
  if (st.uid !== uid && !(how.stickyOk && sticky && st.uid === 0))
    throw new ValidationError(
      `${path} is owned by uid ${st.uid} (mode ${mode}), not by this user (uid ${uid}): the build-root cache is refused`,
      {
        hint: `whoever owns it could change a build root compat reuses; if it is yours, \`chown ${uid} ${path}\` and \`chmod go-w ${path}\`, else use another state dir (--state-dir or COMPAT_STATE_DIR)`,
      },
    );
  if (othersWrite)
    throw new ValidationError(
      `${path} is writable by group or others (mode ${mode}): the build-root cache is refused`,
      {
        hint: `anyone who can write it could change a build root compat reuses; \`chmod go-w ${path}\` (and check nothing in it was changed, or remove it)`,
      },
    );
}

/**
 * A build root's tree: `root/` and its top-level directories (the sandbox's /usr, /etc, …) must be
 * this user's and not group/other-writable; a sticky one (/tmp) may be world-writable. As another
 * user than root, mmdebstrap's unshare mode makes the tree owned by subordinate ids, so only
 * `root/`'s mode is checked then. What is below is not checked file by file (README: what the
 * cache's soundness covers).
 */
async function safeTree(root: string): Promise<void> {
  if (process.geteuid?.() !== 0) {
    const st = await lstat(root);
    if ((st.mode & 0o022) !== 0)
      throw new ValidationError(
        `${root} is writable by group or others (mode ${(st.mode & 0o7777).toString(8)}): the build-root cache is refused`,
        { hint: `\`chmod go-w ${root}\`, or remove the entry (compat makes it again)` },
      );
    return;
  }
  await safeDir(root);
  for (const name of await readdir(root)) {
    const st = await lstat(join(root, name));
    if (st.isDirectory()) await safeDir(join(root, name), { stickyOk: true });
  }
}

function kindOf(st: { isSymbolicLink(): boolean; isFile(): boolean }): string {
  return st.isSymbolicLink() ? "symbolic link" : st.isFile() ? "file" : "special file";
}

/**
 * Set the stamp's times to now, making it when missing, without following a link: a planted
 * `last-used` link (dangling or not) would otherwise let compat create, truncate or re-time a file
 * anywhere, as root. A link or a non-file there is refused, naming it.
 */
export async function touchStamp(stamp: string): Promise<void> {
  const { O_WRONLY, O_CREAT, O_NOFOLLOW, O_NONBLOCK } = fsConstants;
  let fh: FileHandle;
  try {
    fh = await open(stamp, O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK, 0o644);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ELOOP" || code === "EISDIR" || code === "ENXIO")
      throw new ValidationError(`${stamp} is not a regular file (${code}): refused`, {
        hint: "something other than compat put it there; remove it (compat makes it again)",
      });
    throw new IoError(`cannot write ${stamp}: ${codeOf(e)}`, { cause: e });
  }
  try {
    if (!(await fh.stat()).isFile())
      throw new ValidationError(`${stamp} is not a regular file: refused`, {
        hint: "something other than compat put it there; remove it (compat makes it again)",
      });
    const now = new Date();
    await fh.utimes(now, now);
  } finally {
    await fh.close();
  }
}

const codeOf = (e: unknown) => (e as NodeJS.ErrnoException).code ?? (e as Error).message;

async function writeAtomically(file: string, text: string): Promise<void> {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  try {
    await writeFile(tmp, text, { flag: "wx" });
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    throw new IoError(`cannot write ${file}: ${codeOf(e)}`, { cause: e });
  }
}
