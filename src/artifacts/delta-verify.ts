/**
 * The rules a delta's patches must pass, checked by `verify` beside the member rules: patch members
 * are regular files under `<top>/.compat-delta/`, each listed in the manifest and each listed one
 * present; a patch names normalised paths that no symlink of the archive leads through; it reads
 * either its own path (which nothing deletes) or a deleted path that nothing in the archive
 * re-creates (a renamed file, removed after the patches); its result mode passes the setuid rule;
 * and a full artifact has no `.compat-delta/` at all.
 */

import type { DeltaPatch } from "./manifest.js";
import type { ArtifactKind } from "./name.js";
import { PATCH_DIR, pathProblem, selfAndAncestors, type Violation } from "./rules.js";

interface Header {
  name: string;
  type?: string | null;
}

export class DeltaPatchCheck {
  private readonly members = new Set<string>();
  private readonly symlinks = new Set<string>();
  private readonly patchMembers = new Map<string, DeltaPatch>();
  private readonly seenPatchMembers = new Set<string>();
  /** Patched files with setuid/setgid bits (relative to the top dir). */
  readonly setuid: string[] = [];

  constructor(
    private readonly topDir: string,
    private readonly kind: ArtifactKind,
    private readonly patches: readonly DeltaPatch[] | undefined,
    private readonly deletions: readonly string[],
    private readonly allowSetuid: ReadonlySet<string>,
    private readonly report: (v: Violation) => void,
  ) {
    for (const p of patches ?? []) this.patchMembers.set(`${topDir}/${p.member}`, p);
  }

  member(h: Header): void {
    const name = h.type === "directory" ? h.name.replace(/\/$/, "") : h.name;
    if (!name.startsWith(`${this.topDir}/`)) return;
    const rel = name.slice(this.topDir.length + 1);
    this.members.add(rel);
    if (h.type === "symlink") this.symlinks.add(rel);
    if (rel !== PATCH_DIR && !rel.startsWith(`${PATCH_DIR}/`)) return;
    const add = (message: string) => this.report({ rule: "delta-patch", member: h.name, message });
    if (this.kind === "full")
      add(`${PATCH_DIR}/ is reserved for a delta's patches; a full artifact has none`);
    else if (rel === PATCH_DIR) {
      if (h.type !== "directory") add(`${PATCH_DIR} is a ${h.type ?? "unknown"}, not a directory`);
    } else if (this.patches === undefined) {
      // No manifest: nothing to check the patches against (verify warns about that already).
    } else if (!this.patchMembers.has(name))
      add("a member under .compat-delta/ that the manifest lists as no patch");
    else if (h.type !== "file") add(`a patch member is a ${h.type ?? "unknown"}, not a regular file`);
    else this.seenPatchMembers.add(name);
  }

  /** The manifest-level checks, once every member has been seen. */
  finish(): void {
    if (!this.patches) return;
    const deleted = new Set(this.deletions);
    const covering = (rel: string) => [...selfAndAncestors(rel)].find((a) => deleted.has(a));
    const paths = new Set<string>();
    for (const p of this.patches) {
      const add = (message: string, rule: Violation["rule"] = "delta-patch") =>
        this.report({ rule, member: p.path, message });
      const problem = [p.path, p.from, p.member]
        .map((x) => [x, pathProblem(x)] as const)
        .find(([, pr]) => pr);
      if (problem) {
        add(`${problem[0]}: ${problem[1]!.message}`);
        continue;
      }
      if (!p.member.startsWith(`${PATCH_DIR}/`)) add(`its member ${p.member} is not under ${PATCH_DIR}/`);
      else if (!this.seenPatchMembers.has(`${this.topDir}/${p.member}`))
        add(`its member ${p.member} is not a regular file of the archive`);
      for (const x of [p.path, p.from])
        if (x === PATCH_DIR || x.startsWith(`${PATCH_DIR}/`)) add(`${x} is inside ${PATCH_DIR}/`);
      if (paths.has(p.path)) add("two patches for the same file");
      paths.add(p.path);
      if (this.members.has(p.path)) add("the file is both a member and a patch");
      for (const x of [p.path, p.from])
        for (const a of selfAndAncestors(x))
          if (a !== x && this.symlinks.has(a))
            add(`${x} is reached through the symlink ${a}`, "symlink-escape");
      if (p.from === p.path) {
        const d = covering(p.path);
        if (d !== undefined) add(`patches its own path, which the delta deletes (${d})`);
      } else {
        const d = covering(p.from);
        if (d === undefined) add(`patches ${p.from}, which is neither its own path nor deleted by the delta`);
        else if ([...this.members].some((m) => m === d || m.startsWith(`${d}/`)))
          add(`patches ${p.from}, but the archive re-creates ${d}, which is removed after patching`);
        else if (p.path === d || p.path.startsWith(`${d}/`))
          add(`its result lies in ${d}, which is removed after patching`);
      }
      const special = p.mode & 0o6000;
      if (special) {
        this.setuid.push(p.path);
        if (!this.allowSetuid.has(p.path))
          add(
            `mode ${p.mode.toString(8).padStart(4, "0")} has setuid/setgid bits and ${p.path} is not allow-listed`,
            "setuid",
          );
      }
    }
  }
}
