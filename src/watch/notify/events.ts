/**
 * The events compat tells people about, as data (stored in the outbox, formatted per channel when
 * sent). `findings`, `source-problem` and `update-proposed` come from `compat watch`;
 * `candidate-ready`, `gate-failed` and `publication` are defined here for the update loop
 * (compat update, approve, promote) to send through the same channels.
 */
import type { Severity } from "../../security/advisory.js";

export interface FindingBrief {
  source: string;
  id: string;
  severity: Severity;
  package: string;
  installed: string;
  fix: string | null;
  cves: string[];
  title: string;
  url: string | null;
}

/** Which published layer an event is about. */
export interface LayerRef {
  target: string;
  /** The site config's layer name. */
  layer: string;
  arch: string;
}

export interface SourceNote {
  source: string;
  status: "ok" | "stale" | "no-data" | "failed";
  reason: string | null;
}

export type WatchEvent =
  | (LayerRef & {
      event: "findings";
      /** New findings (opened this run), most severe first. */
      findings: FindingBrief[];
      /** Findings that went away this run. */
      resolved: number;
      /** Findings still open from before. */
      stillOpen: number;
      /** Sources without current data: their "no findings" is not a clean bill. */
      sources: SourceNote[];
    })
  | (LayerRef & {
      event: "source-problem";
      source: string;
      status: SourceNote["status"];
      previous: SourceNote["status"] | null;
      reason: string | null;
    })
  | (LayerRef & {
      event: "update-proposed";
      policy: "propose" | "build";
      /** What the flavor's package manager would be asked for (emerge atoms, apt name=version). */
      packages: string[];
      findings: { source: string; id: string; severity: Severity; cves: string[] }[];
    })
  | (LayerRef & {
      event: "candidate-ready";
      candidate: number;
      sha256: string;
      /** The gates, all passed. */
      gates: string[];
      packageDiff?: string;
    })
  | (LayerRef & { event: "gate-failed"; candidate: number; gate: string; reason: string })
  | (LayerRef & {
      event: "publication";
      publication: number;
      sha256: string | null;
      kind: "full" | "delta" | null;
      by: string;
      action: "publish" | "rollback";
    });

export type EventName = WatchEvent["event"];

/** `staging/dev-2025.06/x86_64`: what a message is about, in one word. */
export const subjectOf = (e: LayerRef) => `${e.target}/${e.layer}/${e.arch}`;
