/**
 * The gentoo-git advisory source, an early warning before a GLSA exists: in a gentoo.git
 * checkout, the commits after the layer's pinned commit that touch an installed package's
 * directory and cite a CVE or a security bug (see classify.ts). A finding names the commit, the
 * newer ebuild versions it added (only those newer than the installed version, and in its slot
 * when the ebuild's SLOT is a literal), or that it deleted the installed version's ebuild, and
 * the CVEs. gentoo.git has no severity: every finding is `normal`.
 */
import { existsSync, statSync } from "node:fs";
import { InputError } from "../../errors.js";
import type { InstalledPackage } from "../../gentoo/vardb.js";
import { vercmp } from "../../gentoo/version.js";
import type { Finding } from "../advisory.js";
import { type AdvisorySource, freshnessOf } from "../source.js";
import { ebuildChanges, literalSlot, securityOf } from "./classify.js";
import { commitsSince, headOf, readBlobs, resolveCommit } from "./commits.js";

export const GENTOO_COMMIT_URL = "https://gitweb.gentoo.org/repo/gentoo.git/commit/?id=";

export const gentooGitSource: AdvisorySource<InstalledPackage> = {
  id: "gentoo-git",
  displayName: "gentoo.git security commits (early warning)",
  async open(layer, settings, session) {
    const opts = settings.gentooGit ?? {};
    const repo = opts.repository;
    if (repo === undefined)
      throw new InputError("gentoo-git needs a gentoo.git checkout", {
        hint: "give --gentoo-git DIR (or advisories.gentooGit.repository in the site config)",
      });
    if (!existsSync(repo) || !statSync(repo).isDirectory())
      throw new InputError(`gentoo.git checkout ${repo} does not exist`);
    const pinned = layer.gentooCommit ?? opts.commit;
    if (pinned === undefined)
      throw new InputError(`${layer.label}: the layer's gentoo.git commit is not known`, {
        hint: "give --gentoo-commit HASH (the spec's gentoo.repository.commit), or audit a layer with its build record",
      });
    const head = await session.memo(`gentoo-git-head:${repo}`, () => headOf(repo));
    const from = await session.memo(`gentoo-git-commit:${repo}:${pinned}`, () => resolveCommit(repo, pinned));
    const log = await session.memo(`gentoo-git-log:${repo}:${from}`, () => commitsSince(repo, from));
    // no commit after the layer's: nothing was checked, which is not "no security commits"
    if (log.commits.length === 0 && log.problems.length === 0)
      throw new InputError(
        `${repo} has no commit after the layer's ${from.slice(0, 12)}: there is nothing to check`,
        { hint: "update the gentoo.git checkout (git fetch, then check out origin/master)" },
      );
    return {
      source: "gentoo-git",
      location: `${repo} (${from.slice(0, 12)}..${head.hash.slice(0, 12)})`,
      count: log.commits.length,
      invalid: [],
      cache: "off",
      freshness: freshnessOf(
        new Date(head.time * 1000),
        `committer date of HEAD ${head.hash.slice(0, 12)} in ${repo}`,
        opts.maxAgeDays ?? settings.maxAgeDays,
        settings.now,
      ),
      async detect(packages) {
        const byCp = new Map<string, InstalledPackage[]>();
        for (const p of packages) byCp.set(p.cp, [...(byCp.get(p.cp) ?? []), p]);
        const warnings = [...log.problems];
        const candidates: {
          finding: Finding;
          pkg: InstalledPackage;
          slotCheck: { version: string; request: string }[];
        }[] = [];
        for (const commit of log.commits) {
          const sec = securityOf(commit, opts.securityBugs);
          if (!sec) continue;
          for (const [cp, change] of ebuildChanges(commit)) {
            for (const pkg of byCp.get(cp) ?? []) {
              const newer = change.added.filter((v) => vercmp(v, pkg.version) > 0).sort(vercmp);
              const dropsInstalled = change.removed.includes(pkg.version);
              if (newer.length === 0 && !dropsInstalled) continue;
              const bugs = sec.bugs.map((b) => `bug ${b}`).join(", ");
              candidates.push({
                pkg,
                slotCheck: newer.map((v) => ({
                  version: v,
                  request: `${commit.hash}:${change.addedPaths.get(v)}`,
                })),
                finding: {
                  source: "gentoo-git",
                  id: commit.hash.slice(0, 12),
                  title: `${commit.subject}${bugs ? ` (${bugs})` : ""}`.slice(0, 200),
                  severity: "normal",
                  package: cp,
                  installed: pkg.cpv,
                  slot: pkg.slot
                    ? pkg.subSlot && pkg.subSlot !== pkg.slot
                      ? `${pkg.slot}/${pkg.subSlot}`
                      : pkg.slot
                    : null,
                  vulnerable: dropsInstalled ? [`=${pkg.cpv}`] : [],
                  unaffected: [],
                  fix: null,
                  cves: sec.cves,
                  url: `${GENTOO_COMMIT_URL}${commit.hash}`,
                },
              });
            }
          }
        }
        // an added version of another slot (a new python:3.13 while 3.12 is installed) does not fix the installed one
        const requests = [...new Set(candidates.flatMap((c) => c.slotCheck.map((s) => s.request)))];
        const texts = await readBlobs(repo, requests);
        const slotOf = new Map(
          requests.map((r, i) => [r, texts[i] === undefined ? undefined : literalSlot(texts[i]!)]),
        );
        const findings: Finding[] = [];
        for (const c of candidates) {
          const same = c.slotCheck
            .filter((s) => {
              const slot = slotOf.get(s.request);
              return slot === undefined || c.pkg.slot === undefined || slot === c.pkg.slot;
            })
            .map((s) => s.version);
          if (same.length === 0 && c.finding.vulnerable.length === 0) continue;
          const fix = same[0] ? `>=${c.pkg.cp}-${same[0]}` : null;
          findings.push({
            ...c.finding,
            unaffected: same.map((v) => `=${c.pkg.cp}-${v}`),
            fix,
            ...(fix ? { upgrade: [fix] } : {}),
          });
        }
        return { findings, warnings };
      },
    };
  },
};
