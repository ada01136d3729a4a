/**
 * What a gentoo.git commit says about security, from its message and the files it changed. gentoo.git
 * follows GLEP 66: a subject `category/package: summary` (`dev-libs/openssl: add 3.0.15`), then the
 * body, then trailers: `Bug:` and `Closes:` with a bugs.gentoo.org URL, `Signed-off-by:`,
 * `Part-of:`/`Closes:` for GitHub pull requests. A commit is a security commit when it cites a CVE
 * id (subject or body), or a Gentoo bug together with a security word ("security", "vulnerable",
 * "GLSA"), or a bug listed as a security bug (e.g. an export of Bugzilla's Security product).
 * A plain `add 3.0.15` with an ordinary bug is not: gentoo.git says nothing else about it.
 */

import { isValidVersion } from "../../gentoo/version.js";
import { citedCves } from "../advisory.js";
import type { Commit } from "./commits.js";

export interface SecurityCommit {
  commit: Commit;
  cves: string[];
  bugs: string[];
}

export interface EbuildChange {
  cp: string;
  /** Versions (with revision) of ebuilds the commit added. */
  added: string[];
  /** Versions of ebuilds the commit deleted. */
  removed: string[];
  /** Paths of the added ebuilds, for reading their SLOT. */
  addedPaths: Map<string, string>;
}

const BUG_TRAILER_RE =
  /^(?:Bug|Closes):[ \t]*https?:\/\/bugs\.gentoo\.org\/(?:show_bug\.cgi\?id=)?(\d+)\b/gim;
const BUG_MENTION_RE = /\bbug[ \t]*#?(\d{5,7})\b/gi;
const SECURITY_WORD_RE = /\bsecurity\b|\bvulnerab|\bGLSA\b/i;

export function securityOf(commit: Commit, securityBugs?: ReadonlySet<string>): SecurityCommit | undefined {
  const cves = citedCves(commit.message);
  const bugs = new Set<string>();
  for (const m of commit.message.matchAll(BUG_TRAILER_RE)) bugs.add(m[1]!);
  for (const m of commit.message.matchAll(BUG_MENTION_RE)) bugs.add(m[1]!);
  const bugList = [...bugs];
  const security =
    cves.length > 0 ||
    (bugList.length > 0 && SECURITY_WORD_RE.test(commit.message)) ||
    bugList.some((b) => securityBugs?.has(b));
  return security ? { commit, cves, bugs: bugList } : undefined;
}

/** The ebuilds a commit added and removed, per package directory. */
export function ebuildChanges(commit: Commit): Map<string, EbuildChange> {
  const out = new Map<string, EbuildChange>();
  for (const f of commit.files) {
    const m = /^([^/]+)\/([^/]+)\/([^/]+)\.ebuild$/.exec(f.path);
    if (!m) continue;
    const [, category, pn, file] = m as unknown as [string, string, string, string];
    if (!file.startsWith(`${pn}-`)) continue;
    const version = file.slice(pn.length + 1);
    if (!isValidVersion(version)) continue;
    const cp = `${category}/${pn}`;
    const change: EbuildChange = out.get(cp) ?? { cp, added: [], removed: [], addedPaths: new Map() };
    if (f.status === "A") {
      change.added.push(version);
      change.addedPaths.set(version, f.path);
    } else if (f.status === "D") change.removed.push(version);
    out.set(cp, change);
  }
  return out;
}

/** The SLOT an ebuild sets, when it is a literal (`SLOT="0/3"` → `0`); undefined when computed. */
export function literalSlot(ebuild: string): string | undefined {
  const m = /^SLOT=(["']?)([A-Za-z0-9_][A-Za-z0-9+_.-]*)(?:\/[A-Za-z0-9+_.-]*)?\1[ \t]*(?:#.*)?$/m.exec(
    ebuild,
  );
  return m?.[2];
}
