/**
 * A list of installed packages as `qlist -IRv` prints it (portage-utils), e.g. EESSI's
 * `$EPREFIX/reprod/<timestamp>/packages.txt`: one `category/PF::repo` per line. The forms with
 * `-S`/`-SS` (`:slot`, `:slot/sub`) and `-U` (USE flags after a space) are read too.
 */
import { parseCpv } from "./cpv.js";
import type { InstalledPackage } from "./vardb.js";

export interface PackageListProblem {
  line: number;
  message: string;
}

const SLOT_RE = /^[\w][\w+.-]*(?:\/[\w][\w+.-]*)?$/;
const REPO_RE = /^[\w][\w-]*$/;

export function parsePackageList(
  text: string,
  file = "<list>",
): { packages: InstalledPackage[]; problems: PackageListProblem[] } {
  const packages: InstalledPackage[] = [];
  const problems: PackageListProblem[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const n = i + 1;
    const [spec, ...flags] = line.split(/\s+/);
    let rest = spec!;
    let repo: string | null = null;
    const repoAt = rest.indexOf("::");
    if (repoAt !== -1) {
      repo = rest.slice(repoAt + 2);
      rest = rest.slice(0, repoAt);
      if (!REPO_RE.test(repo)) {
        problems.push({ line: n, message: `not a repository name: ${JSON.stringify(repo)}` });
        return;
      }
    }
    let slot: string | undefined;
    const colon = rest.indexOf(":");
    if (colon !== -1) {
      slot = rest.slice(colon + 1);
      rest = rest.slice(0, colon);
      if (!SLOT_RE.test(slot)) {
        problems.push({ line: n, message: `not a slot: ${JSON.stringify(slot)}` });
        return;
      }
    }
    const cpv = parseCpv(rest);
    if (!cpv || !rest.includes("/")) {
      problems.push({
        line: n,
        message: `not a package: ${JSON.stringify(spec)} (expected category/name-version[::repo], as qlist -IRv prints)`,
      });
      return;
    }
    const pkg: InstalledPackage = {
      cpv: cpv.cpv,
      category: cpv.category,
      name: cpv.name,
      cp: cpv.cp,
      version: cpv.version,
      repo,
      source: `${file}:${n}`,
    };
    if (slot !== undefined) {
      const [s, sub] = slot.split("/");
      pkg.slot = s!;
      pkg.subSlot = sub ?? s!;
    }
    if (flags.length > 0) {
      pkg.use = flags.filter((f) => !f.startsWith("-"));
      pkg.iuse = flags.map((f) => f.replace(/^-/, ""));
    }
    packages.push(pkg);
  });
  return { packages, problems };
}
