/**
 * The software trees' ELF objects, handed to the check as they are found. The walk, the sniffing
 * of every file and the reading of each object's dynamic tables and sha256 (the content key) run on
 * a thread of their own (feed-worker.ts), so on two cores they overlap the loader's resolution on
 * this one; the records it reads go into the ObjectStore before the check asks for them. It stays
 * at most AHEAD objects ahead of the check: their symbol tables wait in the store's budget.
 *
 * Running from the TypeScript sources (tests) there is no compiled worker: the walk runs here, and
 * the check reads each object itself, as it would anyway.
 *
 *   const feed = feedSoftware(trees, store);
 *   for (let f = await feed.next(); f; f = await feed.next()) …
 *   const scan = await feed.scan;   // notElf, unreadable, entries
 */
import { existsSync } from "node:fs";
import { posix } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { SymbolTable, type SymbolTableParts } from "../layer/elf-symbols.js";
import { type ObjectReader, type ObjectRecord, type ObjectStore, readObject } from "./objects.js";
import { type SoftwareFile, type SoftwareScan, type SoftwareTree, walkSoftware } from "./software.js";

/** Objects read ahead of the check, at most: enough to keep both threads busy, few enough to keep their tables. */
const AHEAD = 16;
/** The feed thread's young generation, in MB (V8's default on 64-bit is several times that). */
const FEED_YOUNG_GENERATION_MB = 8;
/** The thread is told how many files the check has taken every this many. */
const TOLD = 4;

/** From the feed's thread: an ELF file found (with its record unless it went before), another name of one, a read asked for, the end of the walk. */
export type FeedMessage =
  | { t: "elf"; tree: number; rel: string; record?: ObjectRecord; table?: SymbolTableParts }
  /** A read answered: without a record when it was posted before (the main thread has it). */
  | { t: "read"; id: number; record?: ObjectRecord; table?: SymbolTableParts }
  | { t: "alias"; index: number; rel: string }
  | { t: "done"; notElf: string[]; unreadable: string[]; entries: number };

/** To the feed's thread: read a file (the check needs it now). */
export type FeedRequest = { t: "read"; id: number; local: string; key: string; again?: boolean };

/**
 * What the feed's thread is told through shared memory, not messages (a message costs both threads
 * more than the few atomic operations): how many files the check has taken.
 */
export const TAKEN = 0;

export interface SoftwareFeed {
  /** The next ELF file (in each tree's order of names); undefined when the walk is over. */
  next(): Promise<SoftwareFile | undefined>;
  /** The walk's counts, files named like libraries that are not ELF, directories not read (`elf` empty). */
  scan: Promise<SoftwareScan>;
  /** Stop the walk (when the check stops early). */
  close(): Promise<void>;
}

export function feedSoftware(trees: readonly SoftwareTree[], store: ObjectStore): SoftwareFeed {
  const workerFile = fileURLToPath(new URL("./feed-worker.js", import.meta.url));
  return existsSync(workerFile) ? threadFeed(workerFile, trees, store) : localFeed(trees);
}

/** The walk on this thread: each file as the generator gives it. */
function localFeed(trees: readonly SoftwareTree[]): SoftwareFeed {
  const walk = walkSoftware(trees);
  let resolveScan!: (s: SoftwareScan) => void;
  const scan = new Promise<SoftwareScan>((r) => {
    resolveScan = r;
  });
  let over = false;
  return {
    scan,
    async close() {
      over = true;
    },
    async next() {
      while (!over) {
        const step = walk.next();
        if (step.done) {
          over = true;
          resolveScan(step.value);
        } else if ("elf" in step.value) return step.value.elf;
      }
      return undefined;
    },
  };
}

function threadFeed(workerFile: string, trees: readonly SoftwareTree[], store: ObjectStore): SoftwareFeed {
  const shared = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(workerFile, {
    // it allocates read buffers and records that die young or go to the main thread: a young
    // generation of 8 MB, not V8's default, measured 15–25 MB less peak RSS at the same speed
    resourceLimits: { maxYoungGenerationSizeMb: FEED_YOUNG_GENERATION_MB },
    workerData: {
      trees: trees.map((t) => ({ local: t.local, at: t.at })),
      ahead: AHEAD,
      shared: shared.buffer,
    },
  });
  const files: SoftwareFile[] = [];
  let next = 0;
  let told = 0;
  let failure: Error | undefined;
  let walked = false;
  let closed = false;
  /** The check's workers waiting for the next file. */
  let waiting: (() => void)[] = [];
  const wakeUp = () => {
    const w = waiting;
    waiting = [];
    for (const r of w) r();
  };
  let resolveScan!: (s: SoftwareScan) => void;
  let rejectScan!: (e: Error) => void;
  const scan = new Promise<SoftwareScan>((res, rej) => {
    resolveScan = res;
    rejectScan = rej;
  });
  scan.catch(() => {}); // next() throws the failure first

  // the check's reads go to the thread too: each file is read there, once
  const reads = new Map<
    number,
    { resolve: (m: Extract<FeedMessage, { t: "read" }>) => void; reject: (e: Error) => void }
  >();
  let readId = 0;
  const reader: ObjectReader = (local, key, again) =>
    new Promise<Extract<FeedMessage, { t: "read" }>>((resolve, reject) => {
      if (failure) return reject(failure);
      const id = readId++;
      reads.set(id, { resolve, reject });
      worker.postMessage({ t: "read", id, local, key, again } satisfies FeedRequest);
    }).then((m) => {
      if (m.record) return { record: m.record, table: m.table && SymbolTable.fromParts(m.table) };
      // posted before this answer, so put in the store by now; else it is read again
      const known = store.get(key);
      return known ? { record: known } : reader(local, key, true);
    });
  store.reader = reader;

  worker.on("message", (m: FeedMessage) => {
    if (m.t === "read") {
      const r = reads.get(m.id);
      reads.delete(m.id);
      r?.resolve(m);
      return;
    }
    if (m.t === "elf") {
      const tree = trees[m.tree]!;
      files.push({
        tree,
        rel: m.rel,
        aliases: [],
        path: posix.join(tree.at, m.rel),
        local: `${tree.local}/${m.rel}`,
      });
      if (m.record) store.put(m.record, m.table && SymbolTable.fromParts(m.table));
    } else if (m.t === "alias") files[m.index]?.aliases.push(m.rel);
    else {
      walked = true;
      resolveScan({ elf: [], notElf: m.notElf, unreadable: m.unreadable, entries: m.entries });
    }
    wakeUp();
  });
  const fail = (e: Error) => {
    if (failure) return;
    failure = e;
    rejectScan(e);
    for (const r of reads.values()) r.reject(e);
    reads.clear();
    wakeUp();
  };
  worker.on("error", fail);
  worker.on("exit", (code) => {
    if (!closed) fail(new Error(`the thread reading the software trees stopped (exit ${code})`));
  });
  return {
    scan,
    async close() {
      closed = true;
      store.reader = readObject;
      fail(new Error("the software walk was stopped"));
      await worker.terminate();
    },
    async next() {
      for (;;) {
        if (failure) throw failure;
        if (next < files.length) {
          const f = files[next++]!;
          // told now and then (each time may wake the thread): it stays between AHEAD - TOLD and AHEAD ahead
          if (next - told >= TOLD) {
            told = next;
            Atomics.store(shared, TAKEN, next);
            Atomics.notify(shared, TAKEN);
          }
          return f;
        }
        if (walked) return undefined;
        await new Promise<void>((r) => {
          waiting.push(r);
        });
      }
    },
  };
}
