/**
 * EESSI's Gentoo checks that read the layer's Portage configuration and git checkouts, and the
 * glibc trusted dirs as the loader reports them. Defects of the reference fixed here
 * (reference/compat-layer.md §7): the trusted dirs are compared as a list, in order, never pasted
 * into a regex (GlibcEnvFileTest matched any one character of the list) nor iterated as a string
 * (GlibcTrustedDirs broke when the setting was one string).
 */
import { posix } from "node:path";
import { parseLdSoHelp } from "../loader.js";
import {
  gitHead,
  readReposConf,
  TRUSTED_DIRS_ENV_PATH,
  trustedDirsFromExtraEmake,
} from "../portage-files.js";
import { outputTail } from "../shell.js";
import { type Check, type CheckContext, fail, pass, skip } from "../types.js";

/** Where `dirs` appear as one consecutive run, in order, in `searchPath`; a description of the mismatch otherwise. */
export function findConsecutive(
  searchPath: readonly string[],
  dirs: readonly string[],
): { at: number } | { problem: string } {
  if (dirs.length === 0) return { problem: "no trusted dirs to look for" };
  const start = searchPath.indexOf(dirs[0]!);
  if (start < 0) return { problem: `${dirs[0]} is not in the system search path` };
  for (let i = 1; i < dirs.length; i++) {
    const at = searchPath[start + i];
    if (at !== dirs[i])
      return {
        problem: searchPath.includes(dirs[i]!)
          ? `${dirs[i]} is in the system search path but not right after ${dirs[i - 1]}`
          : `${dirs[i]} is not in the system search path`,
      };
  }
  return { at: start };
}

/** The trusted dirs the layer must have: the spec's, or (bare prefix) what its env file says. */
export function expectedTrustedDirs(ctx: CheckContext): { dirs: string[]; from: string } | undefined {
  if (ctx.target.trustedDirs !== undefined)
    return ctx.target.trustedDirs.length > 0 ? { dirs: ctx.target.trustedDirs, from: "the spec" } : undefined;
  const text = ctx.fs.readText(ctx.fs.abs(TRUSTED_DIRS_ENV_PATH));
  const dirs = text === undefined ? undefined : trustedDirsFromExtraEmake(text);
  return dirs && dirs.length > 0 ? { dirs, from: ctx.fs.abs(TRUSTED_DIRS_ENV_PATH) } : undefined;
}

export const glibcTrustedDirs: Check = {
  id: "glibc-trusted-dirs",
  title: "glibc searches the trusted dirs, in order",
  proves:
    "`ld.so --help` in the layer lists the user-defined trusted dirs as consecutive system search path entries, in the spec's order (where GPU drivers and site overrides are injected)",
  flavors: ["gentoo"],
  eessi: "GlibcTrustedDirs",
  async skipReason(ctx) {
    if (!expectedTrustedDirs(ctx)) return "the layer has no glibc trusted dirs";
    return ctx.shell.unavailable();
  },
  async run(ctx) {
    const want = expectedTrustedDirs(ctx)!;
    const r = await ctx.shell.run("ld.so --help");
    const { systemDirs } = parseLdSoHelp(r.stdout);
    const evidence = {
      ran: [r.invocation],
      expected: `"(system search path)" lines ${want.dirs.join(", ")} consecutively, in this order (from ${want.from})`,
    };
    if (r.exitStatus !== 0 || systemDirs.length === 0)
      return fail({
        ...evidence,
        found: `ld.so --help exited ${r.exitStatus ?? "?"} with no search path`,
        output: outputTail(r),
      });
    const m = findConsecutive(systemDirs, want.dirs);
    if ("at" in m) return pass({ ...evidence, found: `system search path: ${systemDirs.join(", ")}` });
    return fail({
      ...evidence,
      found: m.problem,
      details: [`system search path: ${systemDirs.join(", ")}`],
      files: [ctx.fs.abs("usr/bin/ld.so")],
    });
  },
};

export const gentooRepoGit: Check = {
  id: "gentoo-repo-git",
  title: "The Gentoo repository is a git checkout at the pinned commit",
  proves:
    "repos.conf points Portage at the prefix's git checkout of gentoo.git (sync-type git, the spec's URL), and that checkout, like every pinned overlay, is at its pinned commit",
  flavors: ["gentoo"],
  eessi: "GentooOverlayGitTest",
  async run(ctx) {
    const { sections, files } = readReposConf(ctx.fs);
    const spec = ctx.target.layer?.spec.gentoo;
    const problems: string[] = [];
    const atFault = new Set<string>();
    const details: string[] = [];
    const repos: { name: string; url?: string; commit?: string }[] = [
      { name: "gentoo", url: spec?.repository.url, commit: spec?.repository.commit },
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
      if (repo.name !== "gentoo" && !repo.commit)
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

export const setDefined: Check = {
  id: "set-defined",
  title: "The package sets are defined",
  proves: "`emerge --list-sets` in the layer lists every set the layer is built from",
  flavors: ["gentoo"],
  eessi: "EessiSetTest",
  async skipReason(ctx) {
    if (ctx.target.sets.length === 0)
      return ctx.target.layer
        ? "the spec installs no package set"
        : "no spec given: the layer's sets are not known";
    return ctx.shell.unavailable();
  },
  async run(ctx) {
    const probe = await ctx.shell.run("command -v emerge");
    if (probe.exitStatus !== 0) return skip("emerge is not in the layer (the emerge check reports it)");
    const r = await ctx.shell.run("emerge --list-sets");
    const listed = new Set(r.stdout.split("\n").map((l) => l.trim()));
    const missing = ctx.target.sets.filter((s) => !listed.has(s));
    const evidence = { ran: [r.invocation], expected: `${ctx.target.sets.join(", ")} listed` };
    if (r.exitStatus !== 0)
      return fail({ ...evidence, found: `exit status ${r.exitStatus}`, output: outputTail(r) });
    if (missing.length === 0) return pass({ ...evidence, found: `${ctx.target.sets.length} set(s) listed` });
    return fail({
      ...evidence,
      found: `not listed: ${missing.join(", ")}`,
      files: missing.map((s) => ctx.fs.abs(`etc/portage/sets/${s}`)),
      output: outputTail(r),
    });
  },
};
