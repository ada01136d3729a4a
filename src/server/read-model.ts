/**
 * What the pages and the API show, read from the store in a few queries each (the dashboard of
 * 100 layers, 1,000 candidates and 100,000 findings is five queries, none per row). The same
 * objects are the API's JSON and the pages' data, so the two cannot show different things.
 */

import { sql } from "kysely";
import { parseTopDir } from "../layer/id.js";
import { SEVERITIES } from "../security/advisory.js";
import type { SiteConfig } from "../site/load.js";
import { type ApprovalRecord, listApprovals } from "../store/approvals.js";
import { type ArtifactRecord, getArtifact } from "../store/artifacts.js";
import { OPEN_CANDIDATE_STATES } from "../store/candidate-states.js";
import { type Candidate, getCandidate, listCandidates } from "../store/candidates.js";
import { type GateResult, listGates } from "../store/gates.js";
import { getLayer, type LayerRecord, listLayers } from "../store/layers.js";
import { listPublications, type Publication, toPublication } from "../store/publications.js";
import type { Store } from "../store/store.js";
import type { ReadCache } from "./read-cache.js";

/** Severities from the worst down, then any other the store holds. */
export function severityOrder(found: Iterable<string>): string[] {
  const known = [...SEVERITIES].reverse() as string[];
  const extra = [...new Set(found)].filter((s) => !known.includes(s)).sort();
  return [...known, ...extra];
}

export interface CellPublication {
  publication: number;
  sha256: string | null;
  action: string;
  kind: string | null;
  at: string;
  ageSeconds: number;
  by: string;
  candidate: number | null;
  /** The gates of the candidate it came from (`checks: passed` …); empty when it came from no candidate. */
  gates: Record<string, string>;
}

export interface PendingCandidate {
  id: number;
  state: string;
  target: string;
  gates: Record<string, string>;
  createdAt: string;
}

export interface DashboardRow {
  layer: string;
  arch: string;
  version: string | null;
  flavor: string | null;
  /** By target name: what it holds now, or null. */
  targets: Record<string, CellPublication | null>;
  /** Open findings of this layer and arch on any target, by severity. */
  findings: Record<string, number>;
  /** The newest candidate still on its way (building … approved). */
  pending: PendingCandidate | null;
}

export interface Dashboard {
  generatedAt: string;
  targets: string[];
  severities: string[];
  rows: DashboardRow[];
}

interface LayerArch {
  name: string;
  arch: string;
  version: string | null;
  flavor: string | null;
}

/** The site's layers × arches: the store's registered layers and the site config's. */
function layerArches(layers: LayerRecord[], site: SiteConfig, siteArches: SiteLayerInfo): LayerArch[] {
  const out = new Map<string, LayerArch>();
  for (const l of layers)
    for (const arch of l.arches)
      out.set(`${l.name}\0${arch}`, { name: l.name, arch, version: l.version, flavor: l.flavor });
  for (const name of Object.keys(site.layers)) {
    const info = siteArches.get(name);
    for (const arch of info?.arches ?? []) {
      const key = `${name}\0${arch}`;
      if (!out.has(key))
        out.set(key, { name, arch, version: info?.version ?? null, flavor: info?.flavor ?? null });
    }
  }
  return [...out.values()].sort((a, b) => (a.name === b.name ? cmp(a.arch, b.arch) : cmp(a.name, b.name)));
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** What the server read from the site config's specs at start: each layer's version and arches. */
export type SiteLayerInfo = Map<string, { version: string; flavor: string; os: string; arches: string[] }>;

export async function dashboard(
  site: SiteConfig,
  store: Store,
  siteLayers: SiteLayerInfo,
  now = new Date(),
): Promise<Dashboard> {
  const [layers, current, open, counts] = await Promise.all([
    listLayers(store),
    currentPublications(store),
    store.db
      .selectFrom("candidates")
      .select(["id", "layer", "arch", "target", "state", "created_at"])
      .where("state", "in", OPEN_CANDIDATE_STATES)
      .orderBy("id", "desc")
      .execute(),
    openFindingCounts(store),
  ]);
  const candidateIds = [
    ...new Set([
      ...open.map((c) => c.id),
      ...current.flatMap((p) => (p.candidate_id === null ? [] : [p.candidate_id])),
    ]),
  ];
  const gates = await gateStates(store, candidateIds);
  const targets = [...new Set([...Object.keys(site.targets), ...current.map((p) => p.target)])];
  const severities = severityOrder(counts.map((c) => c.severity));

  const rows: DashboardRow[] = [];
  const byLayerArch = new Map<string, DashboardRow>();
  for (const l of layerArches(layers, site, siteLayers)) {
    const row: DashboardRow = {
      layer: l.name,
      arch: l.arch,
      version: l.version,
      flavor: l.flavor,
      targets: Object.fromEntries(targets.map((t) => [t, null])),
      findings: {},
      pending: null,
    };
    rows.push(row);
    byLayerArch.set(`${l.name}\0${l.arch}`, row);
  }
  // a publication belongs to the row of its candidate, else to the layer of that version and arch
  const byVersionArch = new Map<string, DashboardRow[]>();
  for (const r of rows) {
    const key = `${r.version}\0${r.arch}`;
    byVersionArch.set(key, [...(byVersionArch.get(key) ?? []), r]);
  }
  const candidateLayer = new Map<number, string>();
  for (const c of open) candidateLayer.set(c.id, `${c.layer}\0${c.arch}`);
  for (const p of current) {
    let row: DashboardRow | undefined;
    if (p.candidate_id !== null && p.candidate_layer !== null)
      row = byLayerArch.get(`${p.candidate_layer}\0${p.candidate_arch}`);
    if (!row) {
      const dir = parseTopDir(p.layer);
      const matches = dir ? (byVersionArch.get(`${dir.version}\0${dir.arch}`) ?? []) : [];
      row = matches.length === 1 ? matches[0] : undefined;
    }
    if (!row) continue;
    row.targets[p.target] = {
      publication: p.id,
      sha256: p.sha256,
      action: p.action,
      kind: p.kind,
      at: p.at,
      ageSeconds: Math.max(0, Math.round((now.getTime() - Date.parse(p.at)) / 1000)),
      by: p.user,
      candidate: p.candidate_id,
      gates: p.candidate_id === null ? {} : (gates.get(p.candidate_id) ?? {}),
    };
  }
  for (const c of open) {
    const row = byLayerArch.get(`${c.layer}\0${c.arch}`);
    if (!row || row.pending) continue; // newest first: the first one seen is the newest
    row.pending = {
      id: c.id,
      state: c.state,
      target: c.target,
      gates: gates.get(c.id) ?? {},
      createdAt: c.created_at,
    };
  }
  for (const c of counts) {
    const row = byLayerArch.get(`${c.layer}\0${c.arch}`);
    if (row) row.findings[c.severity] = (row.findings[c.severity] ?? 0) + Number(c.n);
  }
  return { generatedAt: now.toISOString(), targets, severities, rows };
}

/** What the dashboard is read from. */
export interface DashboardSource {
  site: SiteConfig;
  store: Store;
  siteLayers: SiteLayerInfo;
  reads: ReadCache;
}

/**
 * The dashboard at a store revision: read once while the store does not change (every write, by
 * any process, changes the revision: see ReadCache), shared by the requests that ask meanwhile.
 * The ages are of now: the same object within a second (ages are whole seconds), so a page can
 * keep what it made of it.
 */
export async function currentDashboard(src: DashboardSource, revision: string): Promise<Dashboard> {
  const d = await src.reads.get(revision, "dashboard", () => dashboard(src.site, src.store, src.siteLayers));
  const second = Math.floor(Date.now() / 1000);
  // only this second's copy is kept: no request asks for a past second again, and a copy a second
  // for as long as the store is quiet would hold a dashboard (and its page's table) per second
  const kept = agedDashboards.get(src.reads);
  if (kept && kept.base === d && kept.second === second) return kept.aged;
  const aged = agedAt(d, new Date(second * 1000));
  agedDashboards.set(src.reads, { base: d, second, aged });
  return aged;
}
const agedDashboards = new WeakMap<ReadCache, { base: Dashboard; second: number; aged: Dashboard }>();

/** The dashboard with its ages as of `at`. */
function agedAt(d: Dashboard, at: Date): Dashboard {
  return {
    ...d,
    generatedAt: at.toISOString(),
    rows: d.rows.map((r) => ({
      ...r,
      targets: Object.fromEntries(
        Object.entries(r.targets).map(([t, c]) => [
          t,
          c && { ...c, ageSeconds: Math.max(0, Math.round((at.getTime() - Date.parse(c.at)) / 1000)) },
        ]),
      ),
    })),
  };
}

type FindingCounts = { layer: string; arch: string; severity: string; n: number }[];

/** Open findings by layer, arch and severity: the sums of finding_counts (kept by observeFindings). */
function openFindingCounts(store: Store): Promise<FindingCounts> {
  return store.db
    .selectFrom("finding_counts")
    .select(["layer", "arch", "severity", (eb) => eb.fn.sum<number>("open").as("n")])
    .where("open", ">", 0)
    .groupBy(["layer", "arch", "severity"])
    .execute();
}

/** The newest publication of every (target, layer directory), with its candidate's layer and arch. */
async function currentPublications(store: Store) {
  const newest = store.db
    .selectFrom("publications")
    .select((eb) => eb.fn.max("id").as("id"))
    .groupBy(["target", "layer"]);
  return store.db
    .selectFrom("publications as p")
    .leftJoin("candidates as c", "c.id", "p.candidate_id")
    .selectAll("p")
    .select(["c.layer as candidate_layer", "c.arch as candidate_arch"])
    .where("p.id", "in", newest)
    .orderBy("p.id")
    .execute();
}

async function gateStates(
  store: Store,
  candidateIds: number[],
): Promise<Map<number, Record<string, string>>> {
  const out = new Map<number, Record<string, string>>();
  // in chunks: a list of bound parameters has limits on both backends
  for (let i = 0; i < candidateIds.length; i += 500) {
    const chunk = candidateIds.slice(i, i + 500);
    const rows = await store.db
      .selectFrom("gates")
      .select(["candidate_id", "gate", "state"])
      .where("candidate_id", "in", chunk)
      .orderBy("gate")
      .execute();
    for (const r of rows) out.set(r.candidate_id, { ...(out.get(r.candidate_id) ?? {}), [r.gate]: r.state });
  }
  return out;
}

export interface FindingsOverTime {
  day: string;
  opened: number;
  resolved: number;
}

export interface LayerView {
  layer: LayerRecord | null;
  name: string;
  /** Publications of this layer on every target, newest first (rollback targets the newest). */
  publications: Publication[];
  candidates: Candidate[];
  /** Open findings now, by arch and severity. */
  openFindings: Array<{ arch: string; severity: string; count: number }>;
  /** Findings first seen and resolved per UTC day, the last `days` days (today included). */
  findingsOverTime: FindingsOverTime[];
}

export async function layerView(
  store: Store,
  name: string,
  siteLayers: SiteLayerInfo,
  opts: { days?: number; now?: Date } = {},
): Promise<LayerView | undefined> {
  const layer = (await getLayer(store, name)) ?? null;
  const info = siteLayers.get(name);
  if (!layer && !info) return undefined;
  const version = layer?.version ?? info?.version;
  const arches = layer?.arches ?? info?.arches ?? [];
  // its publications: of its candidates, or (made by hand) of a directory of its version and arches
  const pubRows = await store.db
    .selectFrom("publications as p")
    .leftJoin("candidates as c", "c.id", "p.candidate_id")
    .selectAll("p")
    .select("c.layer as candidate_layer")
    .where((eb) =>
      eb.or([
        eb("c.layer", "=", name),
        eb.and([eb("p.candidate_id", "is", null), eb("p.layer", "like", `${version ?? ""}/compat/%`)]),
      ]),
    )
    .orderBy("p.id", "desc")
    .limit(1000)
    .execute();
  const pubs = pubRows
    .filter((p) => {
      if (p.candidate_id !== null) return true;
      const dir = parseTopDir(p.layer);
      return dir !== undefined && dir.version === version && arches.includes(dir.arch);
    })
    .slice(0, 200)
    .map(toPublication);
  // whole UTC days: today and the days before it
  const today = Date.parse(`${(opts.now ?? new Date()).toISOString().slice(0, 10)}T00:00:00Z`);
  const since = new Date(today - ((opts.days ?? 30) - 1) * 86_400_000).toISOString();
  const day = (col: "first_seen" | "resolved_at") => sql<string>`substr(${sql.ref(col)}, 1, 10)`;
  const [openFindings, opened, resolved, candidates] = await Promise.all([
    store.db
      .selectFrom("findings")
      .select(["arch", "severity", (eb) => eb.fn.countAll<number>().as("count")])
      .where("layer", "=", name)
      .where("resolved_at", "is", null)
      .groupBy(["arch", "severity"])
      .execute(),
    store.db
      .selectFrom("findings")
      .select([day("first_seen").as("day"), (eb) => eb.fn.countAll<number>().as("n")])
      .where("layer", "=", name)
      .where("first_seen", ">=", since)
      .groupBy(day("first_seen"))
      .execute(),
    store.db
      .selectFrom("findings")
      .select([day("resolved_at").as("day"), (eb) => eb.fn.countAll<number>().as("n")])
      .where("layer", "=", name)
      .where("resolved_at", ">=", since)
      .groupBy(day("resolved_at"))
      .execute(),
    listCandidates(store, { layer: name, limit: 100 }),
  ]);
  const days = new Map<string, FindingsOverTime>();
  for (const r of opened) days.set(r.day, { day: r.day, opened: Number(r.n), resolved: 0 });
  for (const r of resolved) {
    const d = days.get(r.day) ?? { day: r.day, opened: 0, resolved: 0 };
    d.resolved = Number(r.n);
    days.set(r.day, d);
  }
  return {
    layer,
    name,
    publications: pubs,
    candidates,
    openFindings: openFindings.map((r) => ({ arch: r.arch, severity: r.severity, count: Number(r.count) })),
    findingsOverTime: [...days.values()].sort((a, b) => cmp(b.day, a.day)),
  };
}

export interface CandidateView {
  candidate: Candidate;
  gates: GateResult[];
  approvals: ApprovalRecord[];
  full: ArtifactRecord | null;
  delta: ArtifactRecord | null;
  publications: Publication[];
}

export async function candidateView(store: Store, id: number): Promise<CandidateView | undefined> {
  const candidate = await getCandidate(store, id);
  if (!candidate) return undefined;
  const [gates, approvals, full, delta, publications] = await Promise.all([
    listGates(store, id),
    listApprovals(store, id, { includeVoided: true }),
    candidate.fullSha256 ? getArtifact(store, candidate.fullSha256) : undefined,
    candidate.deltaSha256 ? getArtifact(store, candidate.deltaSha256) : undefined,
    listPublications(store, { candidate: id }),
  ]);
  return {
    candidate,
    gates,
    approvals,
    full: full ?? null,
    delta: delta ?? null,
    publications,
  };
}
