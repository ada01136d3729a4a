/**
 * One watch run (`compat watch --once`, and each scheduled run): every published layer of every
 * target, audited with every advisory source its flavor has; findings recorded over time in the
 * store (opened, still open, resolved — by the publication the target holds now when it came
 * after); each source's verdict recorded, so a source that turns stale or loses its data is told
 * once; one notification per layer with new findings; the auto-update policy; then the outbox is
 * delivered. A layer or a source that fails is reported and the run goes on.
 */
import { readFileSync } from "node:fs";
import { InputError, isCompatError, ValidationError } from "../errors.js";
import { log } from "../log.js";
import { type Finding, severityRank } from "../security/advisory.js";
import { auditInventory, type SourceReport } from "../security/audit.js";
import { artifactInventory, type Inventory, prefixFacts, readInventory } from "../security/inventory.js";
import { type AdvisorySettings, newSession, type SourceSession } from "../security/source.js";
import { sourcesFor } from "../security/sources.js";
import type { SiteConfig } from "../site/load.js";
import { debianSuiteOf } from "../spec/schema.js";
import { currentUser } from "../store/actor.js";
import { type FindingRecord, observeFindings } from "../store/findings.js";
import { withLease } from "../store/leases.js";
import { recordSourceCheck } from "../store/source-checks.js";
import { isoNow, type Store } from "../store/store.js";
import type { FindingBrief, SourceNote, WatchEvent } from "./notify/events.js";
import { type Delivery, deliver, notify } from "./notify/index.js";
import { proposalFor, recordProposal, type UpdateStarter } from "./policy.js";
import { type PublishedLayer, publishedLayers } from "./published.js";

export interface WatchLayerResult {
  target: string;
  layer: string;
  arch: string;
  /** What was read: the prefix, the artifact, or why nothing. */
  location: string;
  kind: "prefix" | "artifact" | "absent" | "error";
  error: string | null;
  installedPackages: number;
  sources: SourceReport[];
  /** Open findings after this run. */
  open: number;
  opened: FindingBrief[];
  resolved: number;
}

export interface WatchReport {
  startedAt: string;
  endedAt: string;
  layers: WatchLayerResult[];
  events: { event: string; subject: string }[];
  notifications: { queued: number; delivered: number; failed: Delivery["failed"] };
  /** Proposed updates; under policy build, with the candidate compat update made (null: nothing to update). */
  proposals: {
    target: string;
    layer: string;
    arch: string;
    packages: string[];
    candidate?: number | null;
    state?: string | null;
    /** Why the update could not be built. */
    error?: string;
  }[];
}

export interface WatchOptions {
  /** The update loop's entry point, for policy build (src/update/watch-starter.ts). */
  startUpdate?: UpdateStarter;
  /** Judge staleness at this time (tests). */
  now?: Date;
}

/** The settings every source gets, from the site config. */
export function siteAdvisorySettings(site: SiteConfig, now?: Date): AdvisorySettings {
  const a = site.advisories;
  let securityBugs: Set<string> | undefined;
  if (a.gentooGit.securityBugs !== undefined) {
    try {
      securityBugs = new Set(readFileSync(a.gentooGit.securityBugs, "utf8").match(/\b\d{5,7}\b/g) ?? []);
    } catch (e) {
      throw new InputError(
        `advisories.gentooGit.securityBugs: cannot read ${a.gentooGit.securityBugs} (${(e as NodeJS.ErrnoException).code ?? e})`,
      );
    }
  }
  return {
    cacheDir: a.cacheDir,
    maxAgeDays: a.maxAgeDays,
    ...(now ? { now } : {}),
    glsa: a.glsa,
    debianSecurity: a.debianSecurity,
    gentooGit: {
      ...(a.gentooGit.repository !== undefined ? { repository: a.gentooGit.repository } : {}),
      ...(a.gentooGit.maxAgeDays !== undefined ? { maxAgeDays: a.gentooGit.maxAgeDays } : {}),
      ...(securityBugs ? { securityBugs } : {}),
    },
  };
}

const brief = (f: Finding | FindingRecord): FindingBrief => ({
  source: f.source,
  id: "advisoryId" in f ? f.advisoryId : f.id,
  severity: f.severity as FindingBrief["severity"],
  package: f.package,
  installed: f.installed,
  fix: f.fix,
  cves: f.cves,
  title: f.title ?? "",
  url: f.url ?? null,
});

async function inventoryOf(p: PublishedLayer): Promise<Inventory> {
  if (p.where.kind === "prefix") {
    const inv = await readInventory({ kind: "prefix", path: p.where.path, prefix: p.where.path }, p.arch);
    // the spec knows what an old layer's record may not
    const facts = inv.facts.prefix ? inv.facts : await prefixFacts(p.where.path, p.arch);
    if (!facts.debianRelease) facts.debianRelease = p.spec?.debian && debianSuiteOf(p.spec.debian, p.arch);
    if (!facts.gentooCommit && p.spec?.gentoo?.repository.commit)
      facts.gentooCommit = p.spec.gentoo.repository.commit;
    return {
      ...inv,
      facts: { ...facts, label: `${p.target.name}:${p.layer}/${p.arch} (${p.where.path})` },
    } as Inventory;
  }
  if (p.where.kind === "artifact") {
    const inv = await artifactInventory({ kind: "artifact", path: p.where.path }, p.where.manifest);
    if (!inv.facts.debianRelease)
      inv.facts.debianRelease = p.spec?.debian && debianSuiteOf(p.spec.debian, p.arch);
    if (!inv.facts.gentooCommit && p.spec?.gentoo?.repository.commit)
      inv.facts.gentooCommit = p.spec.gentoo.repository.commit;
    return inv;
  }
  throw new InputError(p.where.why);
}

async function watchLayer(
  site: SiteConfig,
  store: Store,
  p: PublishedLayer,
  settings: AdvisorySettings,
  session: SourceSession,
  events: WatchEvent[],
  opts: WatchOptions,
  proposals: WatchReport["proposals"],
): Promise<WatchLayerResult> {
  const result: WatchLayerResult = {
    target: p.target.name,
    layer: p.layer,
    arch: p.arch,
    location: p.where.kind === "absent" ? p.where.why : p.where.path,
    kind: p.error ? "error" : p.where.kind,
    error: p.error ?? null,
    installedPackages: 0,
    sources: [],
    open: 0,
    opened: [],
    resolved: 0,
  };
  if (p.error || p.where.kind === "absent") return result;
  const ref = { target: p.target.name, layer: p.layer, arch: p.arch };
  const inventory = await inventoryOf(p);
  result.installedPackages = inventory.installedCount;
  const audit = await auditInventory(inventory, sourcesFor(inventory.ecosystem), settings, session);
  for (const w of audit.warnings) log.debug(`${p.target.name}:${p.layer}/${p.arch}: ${w}`);
  result.sources = audit.sources;
  const at = isoNow();
  const opened: Finding[] = [];
  let stillOpen = 0;
  for (const s of audit.sources) {
    const check = await recordSourceCheck(
      store,
      { ...ref, source: s.id, status: s.status, reason: s.reason, asOf: s.freshness?.asOf ?? null },
      at,
    );
    const changed = check.previous !== s.status && (check.previous !== undefined || s.status !== "ok");
    if (changed)
      events.push({
        event: "source-problem",
        ...ref,
        source: s.id,
        status: s.status,
        previous: check.previous ?? null,
        reason: s.reason,
      });
    // a source without data says nothing about its findings: they are neither seen nor resolved
    if (s.status === "no-data" || s.status === "failed") continue;
    const mine = audit.findings.filter((f) => f.source === s.id);
    const observation = await observeFindings(
      store,
      { ...ref, source: s.id },
      mine.map((f) => ({
        advisoryId: f.id,
        package: f.package,
        installed: f.installed,
        slot: f.slot,
        fix: f.fix,
        cves: f.cves,
        severity: f.severity,
        title: f.title,
        url: f.url,
      })),
      { at, ...(p.publication ? { publication: { id: p.publication.id, at: p.publication.at } } : {}) },
    );
    const openedKeys = new Set(observation.opened.map((r) => `${r.advisoryId}\0${r.installed}`));
    opened.push(...mine.filter((f) => openedKeys.has(`${f.id}\0${f.installed}`)));
    stillOpen += observation.stillOpen.length;
    result.resolved += observation.resolved.length;
    result.open += observation.opened.length + observation.stillOpen.length;
  }
  opened.sort((a, b) => severityRank(b.severity) - severityRank(a.severity));
  result.opened = opened.map(brief);
  const notable = opened.filter(
    (f) => severityRank(f.severity) >= severityRank(site.watch.notifyMinSeverity),
  );
  if (notable.length > 0) {
    const sources: SourceNote[] = audit.sources.map((s) => ({
      source: s.id,
      status: s.status,
      reason: s.reason,
    }));
    events.push({
      event: "findings",
      ...ref,
      findings: notable.map(brief),
      resolved: result.resolved,
      stillOpen,
      sources,
    });
  }
  const policy = site.watch.autoUpdate;
  if (policy.policy !== "off") {
    const proposal = proposalFor(ref, opened, policy.minSeverity, policy.policy);
    if (proposal) {
      await recordProposal(store, proposal, currentUser());
      events.push(proposal.event);
      const entry: WatchReport["proposals"][number] = { ...ref, packages: proposal.packages };
      proposals.push(entry);
      if (policy.policy === "build") {
        if (!opts.startUpdate) throw new ValidationError("policy build: no update loop was given to start");
        // an update that cannot start or fails (one of the layer already runs) is this proposal's
        // outcome, not the audit's: the findings stay recorded and the next run proposes again
        try {
          const started = await opts.startUpdate(proposal);
          entry.candidate = started.candidate;
          entry.state = started.state ?? null;
        } catch (e) {
          if (!isCompatError(e)) throw e;
          entry.error = e.message;
          log.warn(`${ref.target}:${ref.layer}/${ref.arch}: policy build: ${e.message}`);
        }
      }
    }
  }
  return result;
}

/** One run over every published layer. Refused (exit 3) while another watch of the same store runs. */
export async function watchOnce(
  site: SiteConfig,
  store: Store,
  opts: WatchOptions = {},
): Promise<WatchReport> {
  return withLease(store, "watch", { purpose: "compat watch", ttlMs: 10 * 60_000 }, async () => {
    const startedAt = isoNow();
    const settings = siteAdvisorySettings(site, opts.now);
    const session = newSession();
    const events: WatchEvent[] = [];
    const proposals: WatchReport["proposals"] = [];
    const layers: WatchLayerResult[] = [];
    for (const p of await publishedLayers(site, store)) {
      try {
        layers.push(await watchLayer(site, store, p, settings, session, events, opts, proposals));
      } catch (e) {
        if (!isCompatError(e)) throw e;
        log.warn(`${p.target.name}:${p.layer}/${p.arch}: ${e.message}`);
        layers.push({
          target: p.target.name,
          layer: p.layer,
          arch: p.arch,
          location: p.where.kind === "absent" ? p.where.why : p.where.path,
          kind: "error",
          error: e.message,
          installedPackages: 0,
          sources: [],
          open: 0,
          opened: [],
          resolved: 0,
        });
      }
    }
    let queued = 0;
    for (const e of events) queued += await notify(store, site.notifications, e);
    const delivery = await deliver(store, site.notifications);
    return {
      startedAt,
      endedAt: isoNow(),
      layers,
      events: events.map((e) => ({ event: e.event, subject: `${e.target}/${e.layer}/${e.arch}` })),
      notifications: { queued, delivered: delivery.delivered, failed: delivery.failed },
      proposals,
    };
  });
}
