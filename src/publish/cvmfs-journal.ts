/**
 * The publish journal of a cvmfs repository: `<state dir>/journal/<repo>.jsonl`, one JSON line per
 * step of every transaction compat opens (who: host, pid and its kernel start time; when; what:
 * layer, artifact, tag; the transaction's lock file once it is open; the history event to record
 * once it is published). Lines are appended and synced before the step they announce, so after a
 * kill the journal says how far the killed publish got, and `assess` decides — from that and from
 * what the repository shows now — whether compat can finish or undo it by itself, or must refuse
 * and say what to do.
 */
import { appendFileSync, closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { processStart } from "../exec/processes.js";
import type { HostProcess, TransactionLock } from "./cvmfs-server.js";
import type { NewHistoryEvent } from "./history.js";

/**
 * opening: `cvmfs_server transaction` is being run (it may or may not have opened one);
 * open: ours is open, its lock file is `lock`; publishing: `cvmfs_server publish -a tag` runs;
 * ingesting: `cvmfs_server ingest` runs (it opens and closes its own transaction);
 * closed: done (`outcome` says how).
 */
export type JournalStep = "opening" | "open" | "publishing" | "ingesting" | "closed";

export interface JournalEntry {
  id: string;
  repository: string;
  /** Where cvmfs_server runs: `this host` or `ssh HOST`. */
  publisher: string;
  /** The compat process that opened it. */
  host: string;
  pid: number;
  pidStart: string;
  startedAt: string;
  command: string;
  layer: string;
  /** The named tag its publish gets: present in the repository once the publish completed. */
  tag: string;
  step: JournalStep;
  lock?: TransactionLock;
  /** What to record in the history once it turns out to be published. */
  event?: NewHistoryEvent;
  /** The tree index to keep for the layer once published (layer-state.ts), staged under this name. */
  tree?: string;
  /** An ingest that completed: the layer is published; the transaction after it makes its nested catalog. */
  ingested?: boolean;
  outcome?: string;
  closedAt?: string;
}

export type JournalStart = Omit<JournalEntry, "host" | "pid" | "pidStart" | "startedAt">;

export class PublishJournal {
  readonly file: string;

  constructor(stateDir: string, repository: string) {
    this.file = join(stateDir, "journal", `${repository}.jsonl`);
  }

  private append(line: Partial<JournalEntry> & { id: string; at: string }): void {
    mkdirSync(join(this.file, ".."), { recursive: true });
    appendFileSync(this.file, `${JSON.stringify(line)}\n`);
    const fd = openSync(this.file, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  /** A new transaction, before `cvmfs_server transaction` (or ingest) runs. */
  begin(start: JournalStart): JournalEntry {
    const entry: JournalEntry = {
      ...start,
      host: hostname(),
      pid: process.pid,
      pidStart: processStart(process.pid) ?? "",
      startedAt: new Date().toISOString(),
    };
    this.append({ ...entry, at: entry.startedAt });
    return entry;
  }

  step(id: string, fields: Partial<JournalEntry>): void {
    this.append({ ...fields, id, at: new Date().toISOString() });
  }

  close(id: string, outcome: string): void {
    this.step(id, { step: "closed", outcome, closedAt: new Date().toISOString() });
  }

  /** Every transaction in the journal, its lines merged, oldest first (a torn last line is skipped). */
  entries(): JournalEntry[] {
    if (!existsSync(this.file)) return [];
    const byId = new Map<string, JournalEntry>();
    for (const line of readFileSync(this.file, "utf8").split("\n")) {
      if (!line.trim()) continue;
      let fields: Partial<JournalEntry> & { id?: string; at?: string };
      try {
        fields = JSON.parse(line);
      } catch {
        continue;
      }
      if (typeof fields.id !== "string") continue;
      const { at: _at, ...rest } = fields;
      byId.set(fields.id, { ...(byId.get(fields.id) ?? ({} as JournalEntry)), ...rest } as JournalEntry);
    }
    return [...byId.values()];
  }

  /** The transaction that was never closed (a killed compat's), if any. */
  unfinished(): JournalEntry | undefined {
    return this.entries()
      .filter((e) => e.step !== "closed" && e.repository !== undefined)
      .at(-1);
  }
}

/** What the repository and the host show now about an unfinished journal entry. */
export interface RecoveryFacts {
  /** The journal's owner still runs (same host, same pid and start time); undefined: not this host. */
  ownerAlive: boolean | undefined;
  /** Programs the owner started that still run (they carry its journal id). */
  processes: HostProcess[];
  /** Its tag exists in the repository: its publish completed. */
  tagExists: boolean;
  /** The repository's open transaction now, if any. */
  lock: TransactionLock | null;
  /** For an ingest: the layer exists now (it did not before). */
  layerExists?: boolean;
}

export type Recovery =
  /** Its publish completed: record it in the history (and keep its tree). */
  | { action: "record"; why: string }
  /** Its ingest completed: record it, then make the nested catalog. */
  | { action: "record-ingest"; why: string }
  /** The open transaction is provably its, and nobody works on it: `abort -f` (then record its ingest). */
  | { action: "abort"; why: string; andThen?: "record-ingest" }
  /** Nothing of it is left open: close the entry. */
  | { action: "close"; why: string }
  /** Someone may still work on it: refuse, say what to do. */
  | { action: "refuse"; why: string; hint: string };

function owner(e: JournalEntry): string {
  return `${e.command} (compat pid ${e.pid} on ${e.host}, since ${e.startedAt})`;
}

/**
 * What to do about an unfinished journal entry. Pure: the decision is a function of the entry and
 * the facts, so every case is tested with vectors. Compat acts by itself only when it can prove
 * the transaction is the dead owner's own and nothing of the owner still runs; otherwise it
 * refuses and says exactly what to do — and never says to publish what is open.
 */
export function assess(e: JournalEntry, f: RecoveryFacts, repository: string, publisher: string): Recovery {
  const abortCommand = `cvmfs_server abort -f ${repository}${publisher === "this host" ? "" : ` (on ${publisher.replace(/^ssh /, "")})`}`;
  if (f.ownerAlive === true)
    return {
      action: "refuse",
      why: `${repository} is being published by ${owner(e)}`,
      hint: "wait for it to finish, then run this again",
    };
  if (f.ownerAlive === undefined)
    return {
      action: "refuse",
      why: `${repository} has an unfinished transaction of ${owner(e)}, on another host, which compat cannot see from here`,
      hint: `if that compat is still running, wait for it; if it is gone, discard the transaction with: ${abortCommand}`,
    };
  if (f.processes.length > 0)
    return {
      action: "refuse",
      why: `${owner(e)} was killed, but programs it started still run: ${f.processes
        .map((p) => `pid ${p.pid} on ${p.where} (${p.command.slice(0, 80)})`)
        .join("; ")}`,
      hint: "wait for them to finish, then run this again; compat then finishes or undoes what the killed publish left",
    };
  if (f.tagExists)
    return {
      action: "record",
      why: `${owner(e)} was killed after its revision ${e.tag} was published`,
    };
  if (e.step === "ingesting")
    return f.layerExists
      ? {
          action: "record-ingest",
          why: `${owner(e)} was killed after cvmfs_server ingest published ${e.layer}`,
        }
      : { action: "close", why: `${owner(e)} was killed during cvmfs_server ingest, which aborted itself` };
  const ingested = e.ingested ? ("record-ingest" as const) : undefined;
  if (!f.lock)
    return ingested
      ? { action: ingested, why: `${owner(e)} was killed after cvmfs_server ingest published ${e.layer}` }
      : { action: "close", why: `${owner(e)} was killed; no transaction is open on ${repository} any more` };
  if (e.lock && e.lock.inode === f.lock.inode && e.lock.ctime === f.lock.ctime)
    return {
      action: "abort",
      why: `${owner(e)} was killed with its transaction open`,
      ...(ingested ? { andThen: ingested } : {}),
    };
  if (!e.lock)
    return {
      action: "refuse",
      why: `${owner(e)} was killed while it opened a transaction; a transaction is open on ${repository} now, probably that one, but compat cannot prove it`,
      hint: `if nobody else works on ${repository}, discard it with: ${abortCommand}; then run this again`,
    };
  return ingested
    ? { action: ingested, why: `${owner(e)} was killed after cvmfs_server ingest published ${e.layer}` }
    : {
        action: "close",
        why: `${owner(e)} was killed; its transaction was closed since, and the one open now is someone else's`,
      };
}
