/**
 * The impact check: a candidate layer tried under the software built on the published one. Every
 * ELF object of the software trees is checked against both layers (abi.ts), and only what breaks on
 * the candidate but not on the published layer is a regression; then the stack's own tests run on
 * both (tests.ts), and a test that passes on the published layer and fails on the candidate is one
 * too. Without a published layer to compare with, every problem counts.
 *
 *   const report = await runImpact({ candidate, published, software: [tree], suite });
 *   report.summary.verdict   // "pass" | "fail"
 */

import { lstatSync } from "node:fs";
import { posix } from "node:path";
import { LayerFs } from "../checks/layer-fs.js";
import { inspectLoader } from "../checks/loader.js";
import { ValidationError } from "../errors.js";
import type { LayerMount } from "../exec/sandbox.js";
import { machineArch } from "../layer/elf.js";
import type { UndefinedSymbol } from "../layer/elf-symbols.js";
import type { Arch } from "../layer/id.js";
import type { FlavorName } from "../spec/schema.js";
import {
  type AbiProblem,
  isolatedProblem,
  type LayerSide,
  problemKey,
  type RootVerdict,
  SideAnalyzer,
} from "./abi.js";
import { openCache, saveCache } from "./cache.js";
import { feedSoftware } from "./feed.js";
import { type ObjectRecord, ObjectStore, statKey } from "./objects.js";
import { PackageOwners, type PackageRef } from "./provenance.js";
import { assertSeparate, type SoftwareFile, type SoftwareTree } from "./software.js";
import { runReframe, runTest, type TestOutcome, type TestPlace, type TestSuite } from "./tests.js";

/** A layer to check against: its prefix (EPREFIX) and where its files are here. */
export interface ImpactLayer {
  prefix: string;
  local: string;
  arch: Arch;
  flavor: FlavorName;
  trustedDirs?: string[];
  /** How it was given, for the report. */
  origin: string;
}

export interface ImpactOptions {
  candidate: ImpactLayer;
  /** The published layer to compare with; without it every problem counts. */
  published?: ImpactLayer;
  software: SoftwareTree[];
  suite?: TestSuite;
  /** Where verdicts are kept for the next run, by content (cache.ts); undefined: nothing kept. */
  cacheDir?: string;
  progress?: (message: string) => void;
}

export type FindingStatus = "regression" | "broken-before" | "fixed" | "broken";

export interface Finding extends AbiProblem {
  status: FindingStatus;
  /** The software object whose start it breaks. */
  object: string;
  /** Where the missing thing was on the published layer (the path opened, the file it is), and its package. */
  before?: Provider;
  /** Where it resolves on the candidate now, when it does (an older library lacking a version). */
  now?: Provider;
}

export interface Provider {
  path: string;
  /** The file behind the path's links, when it differs. */
  file?: string;
  package?: PackageRef;
}

export type TestVerdict = "pass" | "regression" | "broken-before" | "fixed" | "fail" | "skip";

export interface TestComparison {
  name: string;
  verdict: TestVerdict;
  published?: TestOutcome;
  candidate: TestOutcome;
}

export interface ImpactReport {
  candidate: { prefix: string; local: string; origin: string };
  published?: { prefix: string; local: string; origin: string };
  software: SoftwareTree[];
  startedAt: string;
  durationMs: number;
  abi: {
    /** Dynamically linked objects checked (each against every layer). */
    objects: number;
    /** Statically linked executables: nothing to resolve. */
    static: number;
    /** ELF files not checked, and why (another arch, truncated, relocatable, unreadable). */
    skipped: { path: string; why: string }[];
    /** Files named like shared objects that are not ELF (linker scripts, or broken). */
    notElf: string[];
    findings: Finding[];
    /** Files opened and parsed. */
    reads: number;
    /**
     * Shared objects whose unversioned undefined symbols no object of their own link map defines
     * (as `ldd -r` reports plugins): left to the program that loads them, counted, not findings.
     */
    leftToLoader: { objects: number; symbols: number };
    /** Verdicts reused (same object, same libraries on both layers or in an earlier run) and computed. */
    verdicts: { reused: number; computed: number };
    durationMs: number;
  };
  tests?: TestComparison[];
  summary: {
    objects: number;
    regressions: number;
    /** Problems that were there on the published layer too (not caused by the candidate). */
    brokenBefore: number;
    fixed: number;
    tests: number;
    testRegressions: number;
    verdict: "pass" | "fail";
  };
}

const MACHINES: Record<Arch, number> = { x86_64: 62, aarch64: 183, riscv64: 243, ppc64le: 21 };
/**
 * Objects checked at once: while one waits for a file the feed's thread reads (feed.ts), the other
 * goes on. More would hold more link maps alive at once (8 made the heap grow by 100 MB).
 */
const CONCURRENCY = 2;

function namespaceOf(layer: ImpactLayer, software: readonly SoftwareTree[]): LayerFs {
  return new LayerFs({
    prefix: layer.prefix,
    localPrefix: layer.local,
    binds: software.map((s) => ({ at: s.at, local: s.local })),
    sandboxed: true,
  });
}

/** The sandbox shows one layer directory at its prefix. */
export function mountOf(layer: ImpactLayer): LayerMount {
  return { prefixDir: layer.local, prefix: layer.prefix };
}

async function sideOf(name: LayerSide["name"], layer: ImpactLayer, software: readonly SoftwareTree[]) {
  const fs = namespaceOf(layer, software);
  const mount = layer.prefix.startsWith("/cvmfs/") ? mountOf(layer) : undefined;
  const loader = await inspectLoader(fs, layer.arch, layer.flavor, layer.trustedDirs, mount);
  return { name, prefix: layer.prefix, local: layer.local, fs, loader } satisfies LayerSide;
}

export async function runImpact(opts: ImpactOptions): Promise<ImpactReport> {
  const started = Date.now();
  const startedAt = new Date(started).toISOString();
  const say = opts.progress ?? (() => {});
  const { candidate, published } = opts;
  if (published) {
    if (published.prefix !== candidate.prefix)
      throw new ValidationError(
        `the candidate's prefix ${candidate.prefix} is not the published layer's ${published.prefix}`,
        { hint: "compare a candidate with the layer it replaces: the same stack, version, OS and arch" },
      );
    if (published.arch !== candidate.arch)
      throw new ValidationError(
        `the candidate is for ${candidate.arch}, the published layer for ${published.arch}`,
      );
  }
  assertSeparate(opts.software, candidate.prefix, [candidate.local, ...(published ? [published.local] : [])]);

  const store = new ObjectStore();
  const verdicts = await openCache(opts.cacheDir);
  const want = { bits: 64, machine: MACHINES[candidate.arch] };
  const candSide = await sideOf("candidate", candidate, opts.software);
  const pubSide = published ? await sideOf("published", published, opts.software) : undefined;
  const cand = new SideAnalyzer(candSide, store, want);
  const pub = pubSide ? new SideAnalyzer(pubSide, store, want) : undefined;
  const owners = {
    published: pubSide ? new PackageOwners(pubSide.fs, pubSide.local) : undefined,
    candidate: new PackageOwners(candSide.fs, candSide.local),
  };

  const abiStarted = Date.now();
  const findings: Finding[] = [];
  const skipped: { path: string; why: string }[] = [];
  let objects = 0;
  let statics = 0;
  const leftToLoader = { objects: 0, symbols: 0 };
  let done = 0;
  say(
    `checking the ELF objects of ${opts.software.map((s) => s.local).join(", ")} against ${published ? "the published layer and the candidate" : "the layer"}`,
  );
  // walked, sniffed and read on a thread of its own while the objects found so far are checked
  const feed = feedSoftware(opts.software, store);

  const checkOne = async (f: SoftwareFile): Promise<void> => {
    let key: string;
    try {
      key = statKey(lstatSync(f.local, { bigint: true }));
    } catch (e) {
      skipped.push({ path: f.path, why: `cannot read it (${(e as NodeJS.ErrnoException).code ?? e})` });
      return;
    }
    const record = await store.load(f.local, key);
    const why = skipReason(record, want);
    if (why) {
      skipped.push({ path: f.path, why });
      return;
    }
    if (record.kind !== "elf") return;
    if (!record.info.dynamic) {
      statics++;
      return;
    }
    // read once, and only when a side has no verdict for exactly these inputs
    let refs: Promise<readonly UndefinedSymbol[] | undefined> | undefined;
    const undefinedOf = () => {
      refs ??= store.undefinedOf(record, f.local);
      return refs;
    };
    const before = pub ? await pub.check(f.path, f.local, record, verdicts, undefinedOf) : undefined;
    const after = await cand.check(f.path, f.local, record, verdicts, undefinedOf);
    if (!after || (pub && !before)) {
      skipped.push({ path: f.path, why: "it changed while it was being checked" });
      return;
    }
    objects++;
    const isolated = after.isolated.length;
    if (isolated > 0) {
      leftToLoader.objects++;
      leftToLoader.symbols += isolated;
    }
    findings.push(...(await compare(f.path, after, before, cand, pub, owners)));
  };

  const worker = async () => {
    for (let f = await feed.next(); f; f = await feed.next()) {
      await checkOne(f);
      if (++done % 1000 === 0) say(`${done} ELF objects checked`);
    }
  };
  let scan: Awaited<typeof feed.scan>;
  try {
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    scan = await feed.scan;
  } finally {
    await feed.close();
  }
  // a directory the walk could not read hides objects: say so, they were not checked
  for (const dir of scan.unreadable)
    skipped.push({ path: dir, why: "a directory that cannot be read: what it holds was not checked" });
  findings.sort(
    (a, b) =>
      statusOrder(a.status) - statusOrder(b.status) ||
      cmp(a.object, b.object) ||
      cmp(problemKey(a), problemKey(b)),
  );
  skipped.sort((a, b) => cmp(a.path, b.path));
  const abiMs = Date.now() - abiStarted;
  await saveCache(opts.cacheDir, verdicts);

  let tests: TestComparison[] | undefined;
  if (opts.suite) tests = await runSuite(opts.suite, candidate, published, opts.software, say);

  const regressions = findings.filter((f) => f.status === "regression" || f.status === "broken").length;
  const testRegressions = (tests ?? []).filter(
    (t) => t.verdict === "regression" || t.verdict === "fail",
  ).length;
  return {
    candidate: { prefix: candidate.prefix, local: candidate.local, origin: candidate.origin },
    published: published && { prefix: published.prefix, local: published.local, origin: published.origin },
    software: opts.software,
    startedAt,
    durationMs: Date.now() - started,
    abi: {
      objects,
      static: statics,
      skipped,
      notElf: scan.notElf,
      findings,
      reads: store.reads,
      leftToLoader,
      verdicts: { reused: verdicts.hits, computed: verdicts.computed },
      durationMs: abiMs,
    },
    tests,
    summary: {
      objects,
      regressions,
      brokenBefore: findings.filter((f) => f.status === "broken-before").length,
      fixed: findings.filter((f) => f.status === "fixed").length,
      tests: tests?.length ?? 0,
      testRegressions,
      verdict: regressions + testRegressions > 0 || objects === 0 ? "fail" : "pass",
    },
  };
}

function skipReason(record: ObjectRecord, want: { bits: number; machine: number }): string | undefined {
  if (record.kind === "malformed") return "starts like ELF but is truncated or corrupt";
  if (record.kind === "unreadable") return `cannot read it (${record.why})`;
  const i = record.info;
  if (i.bits !== want.bits || i.machine !== want.machine)
    return `ELF${i.bits} ${machineArch(i.machine) ?? `machine ${i.machine}`}: not for this layer's ${machineArch(want.machine)}`;
  if (i.type === "rel") return "a relocatable object (.o, .ko): not loaded by the dynamic loader";
  if (i.type !== "exec" && i.type !== "dyn") return `an ELF ${i.type} file: not loaded by the dynamic loader`;
  return undefined;
}

/** The findings of one object: its problems on the candidate against those on the published layer. */
async function compare(
  object: string,
  after: RootVerdict,
  before: RootVerdict | undefined,
  cand: SideAnalyzer,
  pub: SideAnalyzer | undefined,
  owners: { published?: PackageOwners; candidate: PackageOwners },
): Promise<Finding[]> {
  if (!before) return after.problems.map((p) => findingOf(p, "broken", object));
  const was = new Set(before.problems.map(problemKey));
  const is = new Set(after.problems.map(problemKey));
  // a symbol left to the loading program on both layers is what ldd -r says of every plugin, not a
  // finding; one the published layer resolved and the candidate does not is a regression
  const wasIsolated = new Set(before.isolated);
  const newlyIsolated = after.isolated
    .filter((name) => !wasIsolated.has(name))
    .map((name) => isolatedProblem(object, name));
  const out: Finding[] = [];
  for (const p of [...after.problems, ...newlyIsolated]) {
    if (was.has(problemKey(p))) {
      out.push(findingOf(p, "broken-before", object));
      continue;
    }
    const finding = findingOf(p, "regression", object);
    const beforePath = await whereItWas(p, before, pub!);
    if (beforePath) finding.before = provider(beforePath, pub!, owners.published);
    const nowPath = p.kind === "version" ? providerPath(after, p) : undefined;
    if (nowPath) finding.now = provider(nowPath, cand, owners.candidate);
    out.push(finding);
  }
  for (const p of before.problems) if (!is.has(problemKey(p))) out.push(findingOf(p, "fixed", object));
  return out;
}

/**
 * A finding of a problem, written out field by field: every finding has one shape (a spread of
 * the problem gave each of a tree's 28,000 findings a hidden class of its own, 7 MB).
 */
function findingOf(p: AbiProblem, status: FindingStatus, object: string): Finding {
  return { kind: p.kind, by: p.by, what: p.what, message: p.message, status, object };
}

function provider(path: string, side: SideAnalyzer, owners: PackageOwners | undefined): Provider {
  const r = side.side.fs.resolve(path);
  const file = r.ok && r.path !== path ? r.path : undefined;
  return { path, ...(file ? { file } : {}), package: owners?.owner(path) };
}

/** The file that satisfied a need on the published layer. */
async function whereItWas(
  p: AbiProblem,
  before: RootVerdict,
  pub: SideAnalyzer,
): Promise<string | undefined> {
  switch (p.kind) {
    case "interpreter":
      return p.what;
    case "needed":
      return before.linkMap.lookups.find((l) => l.by === p.by && l.needed === p.what && l.found)?.found?.path;
    case "version":
      return providerPath(before, p);
    case "symbol": {
      const at = p.what.indexOf("@");
      const ref = at < 0 ? { name: p.what } : { name: p.what.slice(0, at), version: p.what.slice(at + 1) };
      return pub.definer(before.linkMap, ref);
    }
  }
}

/** For a version problem `VERSION (soname)` of object `by`: the file that soname resolved to. */
function providerPath(v: RootVerdict, p: AbiProblem): string | undefined {
  const file = /\((.*)\)$/.exec(p.what)?.[1];
  if (!file) return undefined;
  const l = v.linkMap.lookups.find((x) => x.by === p.by && x.needed === file && x.found);
  if (l?.found) return l.found.path;
  return v.linkMap.scope.find((s) => s.object.soname === file || posix.basename(s.object.path) === file)
    ?.object.path;
}

async function runSuite(
  suite: TestSuite,
  candidate: ImpactLayer,
  published: ImpactLayer | undefined,
  software: readonly SoftwareTree[],
  say: (m: string) => void,
): Promise<TestComparison[]> {
  const place = (l: ImpactLayer): TestPlace => {
    if (!l.prefix.startsWith("/cvmfs/"))
      throw new ValidationError(`cannot run tests: the layer's prefix ${l.prefix} is not under /cvmfs`, {
        hint: "the sandbox shows a layer at its prefix under its own /cvmfs",
      });
    return { mount: mountOf(l), prefix: l.prefix, software: [...software] };
  };
  const sides = [
    ...(published ? [["published", place(published)] as const] : []),
    ["candidate", place(candidate)] as const,
  ];
  const results = new Map<string, { published?: TestOutcome; candidate?: TestOutcome }>();
  const put = (name: string, side: "published" | "candidate", o: TestOutcome) => {
    const r = results.get(name) ?? {};
    r[side] = o;
    results.set(name, r);
  };
  for (const [side, where] of sides) {
    for (const t of suite.tests) {
      say(`test ${t.name} on the ${side === "candidate" && !published ? "layer" : side}`);
      put(t.name, side, await runTest(where, t));
    }
    if (suite.reframe) {
      say(`reframe on the ${side}`);
      for (const [name, o] of await runReframe(where, suite.reframe)) put(name, side, o);
    }
  }
  return [...results].map(([name, r]) => {
    const c = r.candidate ?? {
      status: "fail" as const,
      reason: "did not run on the candidate",
      durationMs: 0,
    };
    return {
      name,
      published: r.published,
      candidate: c,
      verdict: testVerdict(c, r.published, published !== undefined),
    };
  });
}

function testVerdict(c: TestOutcome, p: TestOutcome | undefined, compared: boolean): TestVerdict {
  const ok = (o: TestOutcome) => o.status === "pass";
  if (c.status === "skip") return "skip";
  if (!compared) return ok(c) ? "pass" : "fail";
  if (ok(c)) return p && !ok(p) && p.status !== "skip" ? "fixed" : "pass";
  return p && ok(p) ? "regression" : p?.status === "skip" || !p ? "fail" : "broken-before";
}

function statusOrder(s: FindingStatus): number {
  return ["regression", "broken", "broken-before", "fixed"].indexOf(s);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
