/**
 * The rules every member of an artifact must pass, checked one header at a time in archive order
 * (pure: headers in, violations out). Each rule has an id that error messages and --json name.
 */
import { relativePathProblem } from "../paths/rules.js";

/** The reserved directory (under the top dir) that a delta's patches travel in. */
export const PATCH_DIR = ".compat-delta";

export const RULES = {
  "artifact-name": "the file name is <stack>-<version>-compat-<os>-<arch>-<epoch>[.delta].tar.<zst|gz>",
  "absolute-name": "member names are relative",
  "dot-dot": "no member name has a `..` component",
  "non-normalised-name": "member names have no empty or `.` components and no NUL",
  "outside-top-dir": "every member is the top dir or below it",
  "top-dir-mismatch": "the top dir's version, os and arch agree with the file name",
  "top-dir-type": "the top dir is a directory (a symlink there would put the whole layer elsewhere)",
  "symlink-escape": "no member is reached through a symlink in the archive",
  "hardlink-outside": "a hard link points at an earlier regular file of the archive",
  "special-file": "no device, fifo or socket nodes",
  setuid: "no setuid/setgid bits unless allow-listed",
  "unknown-type": "members are directories, regular files, symlinks or hard links",
  "unsupported-header":
    "headers are plain ustar and pax: pax records only path, linkpath, size, times and owner; no pax global or GNU long-name headers; no data on members that have none",
  "duplicate-member": "each member name appears once",
  "cvmfscatalog-not-regular":
    "a .cvmfscatalog member is a regular file (cvmfs_server ingest panics otherwise)",
  "data-after-end":
    "nothing but zeros follows the end-of-archive block (GNU tar stops there, other readers go on)",
  "truncated-stream": "the compressed stream and the tar archive are complete",
  "corrupt-stream": "the compressed stream and every tar header are intact",
  "compression-mismatch": "the data is compressed as the file name says",
  "checksum-mismatch": "sha256 and size agree with the manifest",
  "manifest-mismatch": "the manifest describes this artifact (name, top dir, members)",
  signature: "the manifest's ed25519 signature verifies with the given public key",
  "approval-mismatch": "the artifact is the one that was approved (sha256)",
  "bad-deletion": "a delta's deletions are normalised paths inside the top dir",
  "delta-patch":
    "a delta's patches are regular files under .compat-delta/, each listed in the manifest, for normalised paths a patch can apply to (a full artifact has no .compat-delta/)",
} as const;

export type RuleId = keyof typeof RULES;

export interface Violation {
  rule: RuleId;
  /** The member (full name in the archive) or file the violation is about. */
  member?: string;
  message: string;
}

export interface MemberHeader {
  name: string;
  type: string | null | undefined;
  mode: number;
  linkname?: string | null;
  pax?: Record<string, string> | null;
}

const PAX_KEYS = new Set([
  "path",
  "linkpath",
  "size",
  "mtime",
  "atime",
  "ctime",
  "uid",
  "gid",
  "uname",
  "gname",
]);

/**
 * A member name's problem as a relative, normalised path (src/paths/rules.ts, the rules every value
 * that becomes a path passes), under this module's rule ids.
 */
export function pathProblem(name: string): { rule: RuleId; message: string } | undefined {
  const p = relativePathProblem(name, { normalised: true });
  if (!p) return undefined;
  const rule: RuleId =
    p.rule === "absolute" ? "absolute-name" : p.rule === "dot-dot" ? "dot-dot" : "non-normalised-name";
  return { rule, message: `the name ${p.message}` };
}

export class MemberRules {
  private readonly seen = new Map<string, string>();
  private readonly symlinks = new Set<string>();
  readonly setuidMembers: string[] = [];

  constructor(
    private readonly topDir: string,
    private readonly allowSetuid: ReadonlySet<string> = new Set(),
  ) {}

  /** Relative to the top dir: `""` for the top dir, else `sub/path`. */
  relative(path: string): string {
    return path === this.topDir ? "" : path.slice(this.topDir.length + 1);
  }

  private under(path: string): boolean {
    return path === this.topDir || path.startsWith(`${this.topDir}/`);
  }

  private topDirProblem(path: string): string | undefined {
    const got = path.split("/");
    const want = this.topDir.split("/");
    if (got.length < 4 || got[1] !== "compat") return undefined;
    const labels = ["version", "", "os", "arch"];
    for (const i of [0, 2, 3])
      if (got[i] !== want[i]) return `${labels[i]} ${got[i]} in the archive, ${want[i]} in the file name`;
    return undefined;
  }

  check(h: MemberHeader): Violation[] {
    const out: Violation[] = [];
    const raw = h.name;
    const add = (rule: RuleId, message: string) => out.push({ rule, member: raw, message });
    const name = h.type === "directory" && raw.endsWith("/") ? raw.slice(0, -1) : raw;

    for (const key of Object.keys(h.pax ?? {}))
      if (!PAX_KEYS.has(key)) add("unsupported-header", `pax record ${key} is not allowed`);

    const problem = pathProblem(name);
    if (problem) {
      add(problem.rule, problem.message);
      return out;
    }
    if (!this.under(name)) {
      const mismatch = this.topDirProblem(name);
      if (mismatch) add("top-dir-mismatch", mismatch);
      else add("outside-top-dir", `not under ${this.topDir}/`);
      return out;
    }
    if (this.seen.has(name)) add("duplicate-member", "the name appears twice in the archive");
    if (name === this.topDir && h.type !== "directory")
      add("top-dir-type", `the top dir is a ${h.type ?? "member of unknown type"}, not a directory`);
    if (!Number.isInteger(h.mode) || h.mode < 0)
      add("unsupported-header", "the mode field is not an octal number (readers decode it differently)");

    for (const ancestor of ancestorsOf(name))
      if (this.symlinks.has(ancestor)) {
        add("symlink-escape", `reached through the symlink ${ancestor}`);
        break;
      }

    switch (h.type) {
      case "directory":
      case "file":
        break;
      case "symlink":
        this.symlinks.add(name);
        break;
      case "link": {
        const target = h.linkname ?? "";
        const tp = pathProblem(target);
        if (tp || !this.under(target))
          add("hardlink-outside", `hard link to ${target || "(nothing)"}, outside the archive's top dir`);
        else if (this.seen.get(target) !== "file")
          add(
            "hardlink-outside",
            `hard link to ${target}, which is not an earlier regular file of the archive`,
          );
        else
          for (const ancestor of ancestorsOf(target))
            if (this.symlinks.has(ancestor)) {
              add("symlink-escape", `hard link target reached through the symlink ${ancestor}`);
              break;
            }
        break;
      }
      case "character-device":
      case "block-device":
      case "fifo":
        add("special-file", `${h.type} node`);
        break;
      default:
        add("unknown-type", `member type ${h.type ?? "unknown"} is not allowed`);
    }

    const base = name.split("/").pop();
    if (base === ".cvmfscatalog" && h.type !== "file")
      add("cvmfscatalog-not-regular", `.cvmfscatalog is a ${h.type ?? "unknown"}, not a regular file`);

    const special = h.mode & 0o6000;
    const onlyDirSetgid = h.type === "directory" && special === 0o2000;
    if (special && !onlyDirSetgid) {
      const rel = this.relative(name);
      this.setuidMembers.push(rel);
      if (!this.allowSetuid.has(rel))
        add(
          "setuid",
          `mode ${(h.mode & 0o7777).toString(8).padStart(4, "0")} has setuid/setgid bits and ${rel} is not allow-listed`,
        );
    }
    this.seen.set(name, h.type === "link" ? "file" : (h.type ?? "unknown"));
    return out;
  }
}

/** `rel` itself and each of its ancestors, longest first. */
export function* selfAndAncestors(rel: string): Generator<string> {
  for (let p = rel; p; p = p.includes("/") ? p.slice(0, p.lastIndexOf("/")) : "") yield p;
}

/** The ancestors of `rel`, without itself. */
function* ancestorsOf(rel: string): Generator<string> {
  for (const a of selfAndAncestors(rel)) if (a !== rel) yield a;
}
