/**
 * EESSI's GentooOverlayGitTest: repos.conf points Portage at a git checkout of gentoo.git, and
 * that checkout (and every pinned overlay) is at its pinned commit.
 */
import { posix } from "node:path";
import { GENTOO_REPOSITORY } from "../../gentoo/portage-names.js";
import { gitHead, readReposConf } from "../portage-files.js";
import { type Check, fail, pass } from "../types.js";
import type { Versions } from "../versions.js";

/** EESSI skips 2021.03, whose Gentoo repository was not a git checkout (reference/compat-layer.md §7). */
const GENTOO_REPO_VERSIONS: Versions = { except: ["2021.03"] };

export const gentooRepoGit: Check = {
  id: "gentoo-repo-git",
  title: "The Gentoo repository is a git checkout at the pinned commit",
  proves:
    "repos.conf points Portage at the prefix's git checkout of gentoo.git (sync-type git, the spec's URL), and that checkout, like every pinned overlay, is at its pinned commit",
  requires: "portage",
  versions: GENTOO_REPO_VERSIONS,
  eessi: "GentooOverlayGitTest",
  async run(ctx) {
    const { sections, files } = readReposConf(ctx.fs);
    const spec = ctx.target.layer?.spec.gentoo;
    const problems: string[] = [];
    const atFault = new Set<string>();
    const details: string[] = [];
    const repos: { name: string; url?: string; commit?: string }[] = [
      { name: GENTOO_REPOSITORY, url: spec?.repository.url, commit: spec?.repository.commit },
      ...(spec?.overlays ?? [])
        .filter((o) => o.syncType === "git")
        .map((o) => ({ name: o.name, url: o.url, commit: o.commit })),
    ];
    for (const repo of repos) {
      const s = sections.get(repo.name);
      if (!s) {
        problems.push(`repos.conf has no [${repo.name}] section`);
        for (const f of files) atFault.add(f);
        if (files.length === 0) atFault.add(ctx.fs.abs("etc/portage/repos.conf"));
        continue;
      }
      const before = problems.length;
      const location = s.get("location");
      const wantLocation = ctx.fs.abs(`var/db/repos/${repo.name}`);
      if (location !== wantLocation)
        problems.push(`[${repo.name}] location is ${location ?? "unset"}, expected ${wantLocation}`);
      if (s.get("sync-type") !== "git")
        problems.push(`[${repo.name}] sync-type is ${s.get("sync-type") ?? "unset"}, expected git`);
      if (repo.url && s.get("sync-uri") !== repo.url)
        problems.push(`[${repo.name}] sync-uri is ${s.get("sync-uri") ?? "unset"}, expected ${repo.url}`);
      if (problems.length > before) for (const f of files) atFault.add(f);
      const dir = location?.startsWith("/") ? location : wantLocation;
      const head = gitHead(ctx.fs, dir);
      if (head.problem) {
        problems.push(`${repo.name}: ${head.problem}`);
        atFault.add(posix.join(dir, ".git"));
      } else if (repo.commit && !head.commit!.startsWith(repo.commit)) {
        problems.push(`${repo.name}: HEAD is ${head.commit}, pinned commit is ${repo.commit}`);
        atFault.add(posix.join(dir, ".git/HEAD"));
      } else
        details.push(
          `${repo.name}: ${dir} at ${head.commit}${repo.commit ? " (the pinned commit)" : " (no pin known)"}`,
        );
      if (repo.name !== GENTOO_REPOSITORY && !repo.commit)
        details.push(
          `${repo.name}: no pinned commit in the spec, so the overlay follows its branch (not reproducible)`,
        );
    }
    const evidence = {
      read: [...files, ...repos.map((r) => ctx.fs.abs(`var/db/repos/${r.name}/.git/HEAD`))],
      expected: spec
        ? `[gentoo] location ${ctx.fs.abs("var/db/repos/gentoo")}, sync-type git, sync-uri ${spec.repository.url}, HEAD ${spec.repository.commit}`
        : `[gentoo] location ${ctx.fs.abs("var/db/repos/gentoo")}, sync-type git, a git checkout`,
    };
    if (problems.length === 0) return pass({ ...evidence, found: details[0] ?? "ok", details });
    return fail({
      ...evidence,
      found: problems.join("; "),
      files: [...atFault],
      details: [...problems, ...details],
    });
  },
};
