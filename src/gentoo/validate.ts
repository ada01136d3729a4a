/**
 * Checks of package names, versions and Portage config lines as Portage would make them, with
 * messages for people (used by the layer spec schema).
 */
import { InvalidAtomError, parseAtom } from "./atom.js";
import { isValidVersion } from "./version.js";

/** Why `category/name` is not a package name Portage accepts; undefined when it is one. */
export function packageNameProblem(name: string): string | undefined {
  try {
    const atom = parseAtom(name, { allowRepo: false, allowBuildId: false });
    if (atom.text === atom.cp && !atom.blocker) return undefined;
  } catch {
    // explained below
  }
  if (!name.includes("/"))
    return "not a package name: it needs a category (category/name, e.g. sys-apps/archspec)";
  if (/-\d/.test(name.slice(name.indexOf("/"))) && parseAtomOrUndefined(`=${name}`))
    return "not a package name: it ends in a version (give the version in `version:`)";
  return "not a package name (expected category/name as PMS allows them, e.g. sys-apps/archspec)";
}

/** Why `version` cannot pin `name` (`=name-version`); undefined when it can. */
export function versionProblem(name: string, version: string): string | undefined {
  if (!isValidVersion(version.replace(/\*$/, "")))
    return `not a version Portage accepts: ${JSON.stringify(version)} (expected e.g. 1.2.3, 1.2.3_p1-r2 or 1.2*)`;
  return parseAtomOrUndefined(`=${name}-${version}`) ? undefined : `=${name}-${version} is not a valid atom`;
}

function parseAtomOrUndefined(text: string) {
  try {
    return parseAtom(text);
  } catch {
    return undefined;
  }
}

export interface LineProblem {
  /** 1-based line of the text */
  line: number;
  message: string;
}

/**
 * Lines of a Portage user config file that starts each entry with an atom (package.use,
 * package.mask, package.unmask, package.accept_keywords, package.env, profile package.use.mask):
 * wildcards (`*\/*`) and `::repo` are allowed there, blockers are not.
 */
export function atomLinesProblems(text: string): LineProblem[] {
  const problems: LineProblem[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.replace(/#.*/, "").trim();
    if (line === "") return;
    const atom = line.split(/\s+/)[0]!;
    try {
      parseAtom(atom, { allowWildcard: true, allowRepo: true, allowBlockers: false });
    } catch (e) {
      if (!(e instanceof InvalidAtomError)) throw e;
      problems.push({
        line: i + 1,
        message: `${e.message} (each entry starts with an atom, e.g. >=sys-devel/gcc-14)`,
      });
    }
  });
  return problems;
}
