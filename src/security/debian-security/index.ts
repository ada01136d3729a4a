/**
 * The debian-security advisory source: a debian layer's dpkg status, by source package, against
 * the index of its release's security suite as its apt sources name it (`<release>-security`,
 * from the layer's own sources, else Debian's security archive), with the CVEs from the newer
 * versions' changelogs, and optionally Debian's security-tracker JSON for CVEs without a fix yet.
 *
 * Online (the default), the index is fetched with `apt-get update` into compat's cache and
 * changelogs with `apt-get download`; with an index directory given, nothing is fetched and
 * changelogs come from `<index>/changelogs/` or the cache.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { DEBIAN_ARCH } from "../../debian/mmdebstrap.js";
import type { InstalledPackage } from "../../debian/status.js";
import { InputError, isCompatError } from "../../errors.js";
import type { Arch } from "../../layer/id.js";
import { type AdvisorySource, freshnessOf, type LayerFacts } from "../source.js";
import { DEFAULT_SECURITY_MIRROR, privateApt, updateIndex } from "./apt.js";
import { ChangelogStore } from "./changelogs.js";
import { detectDebian } from "./detect.js";
import { loadSecurityIndex, type SecurityIndex } from "./index-files.js";
import { pickTopLevel, TrackerFormatError, trackerIssues } from "./tracker.js";

const isSecuritySuite = (s: string) => /-security$|\/updates$/.test(s);

/**
 * The layer's security suite and where its apt sources fetch it from. The sources are the layer's
 * own text: only an http(s) URI, a plain suite and plain components are taken from them (they
 * become a sources.list line; apt still checks the index against Debian's archive keyring).
 */
export function securitySuiteOf(layer: LayerFacts): { suite?: string; uri?: string; components: string[] } {
  const plainUri = (u: string | undefined) =>
    u && /^https?:\/\/[A-Za-z0-9._~:/%@+-]+$/.test(u) ? u : undefined;
  const plain = (xs: string[]) => xs.filter((x) => /^[a-z0-9][a-z0-9-]*$/.test(x));
  for (const s of layer.aptSources ?? []) {
    const suite = s.suites.find((x) => isSecuritySuite(x) && /^[a-z0-9][a-z0-9./-]*$/.test(x));
    if (suite) {
      const uri = plainUri(s.uris[0]);
      return {
        suite,
        ...(uri ? { uri } : {}),
        components: plain(s.components).length ? plain(s.components) : ["main"],
      };
    }
  }
  const components = plain(layer.aptSources?.find((s) => plain(s.components).length)?.components ?? []);
  if (components.length === 0) components.push("main");
  return { ...(layer.debianRelease ? { suite: `${layer.debianRelease}-security` } : {}), components };
}

export const debianSecuritySource: AdvisorySource<InstalledPackage> = {
  id: "debian-security",
  displayName: "Debian security suite (with changelogs)",
  async open(layer, settings, session) {
    const debArch = DEBIAN_ARCH[layer.arch as Arch];
    if (!debArch) throw new InputError(`debian-security: ${layer.arch} is not a CPU family compat knows`);
    const opts = settings.debianSecurity ?? {};
    const where = securitySuiteOf(layer);
    const notes: string[] = [];
    const changelogCache = settings.cacheDir
      ? join(settings.cacheDir, "debian-security", "changelogs")
      : undefined;
    let index: SecurityIndex;
    let changelogs: ChangelogStore;
    if (opts.index !== undefined) {
      const dir = opts.index;
      index = await session.memo(`debian-index:${dir}:${where.suite}:${debArch}`, () =>
        loadSecurityIndex(dir, where.suite, debArch),
      );
      changelogs = new ChangelogStore({
        bundle: join(dir, "changelogs"),
        ...(changelogCache ? { cache: changelogCache } : {}),
      });
    } else {
      if (settings.cacheDir === undefined)
        throw new InputError(
          "debian-security fetches the security suite's index into the cache, and the cache is off",
          {
            hint: "drop --no-cache, or give --debian-index DIR (an apt lists directory with the suite's index)",
          },
        );
      if (where.suite === undefined)
        throw new InputError(
          `${layer.label}: cannot tell the layer's Debian release (no VERSION_CODENAME in its os-release, no build record, no apt sources)`,
          {
            hint: "give --debian-index DIR with the index of the layer's security suite",
          },
        );
      const apt = privateApt(join(settings.cacheDir, "debian-security", "apt"), {
        uri: where.uri ?? opts.mirror ?? DEFAULT_SECURITY_MIRROR,
        suite: where.suite,
        components: where.components,
        debArch,
      });
      const suite = where.suite;
      index = await session.memo(`debian-apt:${apt.root}`, async () => {
        try {
          await updateIndex(apt);
        } catch (e) {
          if (!isCompatError(e)) throw e;
          // an older copy is still data; its age says how old
          const old = await loadSecurityIndex(apt.lists, suite, debArch).catch(() => undefined);
          if (!old) throw e;
          notes.push(
            `debian-security: apt-get update of ${suite} failed (${e.message}); using the index fetched before`,
          );
          return old;
        }
        return loadSecurityIndex(apt.lists, suite, debArch);
      });
      changelogs = new ChangelogStore({ ...(changelogCache ? { cache: changelogCache } : {}) }, apt);
    }
    const release = layer.debianRelease ?? index.suite.replace(/-security$|\/updates$/, "");
    if (opts.tracker !== undefined && !existsSync(opts.tracker))
      throw new InputError(`security-tracker file ${opts.tracker} does not exist`, {
        hint: "give the JSON of https://security-tracker.debian.org/tracker/data/json, saved to a file",
      });
    const maxAge = opts.maxAgeDays ?? settings.maxAgeDays;
    return {
      source: "debian-security",
      location: `${index.releaseFile} (${index.suite}, ${debArch})`,
      count: index.packages.sources.size,
      invalid: index.packages.problems,
      cache: opts.index !== undefined ? "off" : "warm",
      freshness: freshnessOf(
        index.release.date ?? null,
        `Date of ${index.releaseFile}`,
        maxAge,
        settings.now,
        index.release.validUntil,
      ),
      async detect(packages) {
        const warnings = [...notes];
        let byTracker: ((source: string) => ReturnType<typeof trackerIssues>) | undefined;
        if (opts.tracker !== undefined) {
          const bytes = await session.memo(`debian-tracker:${opts.tracker}`, async () =>
            readFileSync(opts.tracker!),
          );
          try {
            const picked = pickTopLevel(bytes, new Set(packages.map((p) => p.source)));
            byTracker = (source) => trackerIssues(source, picked.get(source), release);
          } catch (e) {
            if (!(e instanceof TrackerFormatError)) throw e;
            warnings.push(
              `security-tracker file ${opts.tracker} is not the tracker's JSON (${e.message}); skipped`,
            );
          }
        }
        const result = await detectDebian(packages, {
          packages: index.packages,
          changelog: (s, v, b) => changelogs.get(s, v, b),
          ...(byTracker ? { tracker: byTracker } : {}),
        });
        return { findings: result.findings, warnings: [...warnings, ...result.warnings] };
      },
    };
  },
};
