/**
 * Thread of the software feed (feed.ts): every file the check reads is read here, once. It answers
 * the main thread's reads first (the layer's libraries, an object's libraries not fed yet), and in
 * between walks the trees, sniffs every file and reads each ELF object's record and symbol table
 * (its sha256 included), posting them in the walk's order, at most `ahead` objects ahead of what the
 * main thread has taken.
 */
import { lstatSync } from "node:fs";
import { parentPort, workerData } from "node:worker_threads";
import { type FeedMessage, type FeedRequest, TAKEN } from "./feed.js";
import { readObject, statKey } from "./objects.js";
import { type SoftwareFile, type SoftwareTree, walkSoftware } from "./software.js";

const { trees, ahead, shared } = workerData as {
  trees: SoftwareTree[];
  ahead: number;
  shared: SharedArrayBuffer;
};
/** Atomics.waitAsync (in Node 20's V8; TypeScript's lib has it from es2024). */
const waitAsync = (
  Atomics as unknown as {
    waitAsync(
      a: Int32Array,
      index: number,
      value: number,
    ): { async: false; value: string } | { async: true; value: Promise<string> };
  }
).waitAsync;
/** How many files the main thread has taken (feed.ts stores it, and wakes a wait on it). */
const counts = new Int32Array(shared);
const post = (m: FeedMessage) => parentPort!.postMessage(m, transferable(m));

/**
 * The table buffers that own their whole memory (larger ones: Node pools only small buffers) are
 * moved to the main thread, not copied; nothing here uses them after they are posted.
 */
function transferable(m: FeedMessage): ArrayBuffer[] {
  const t = "table" in m ? m.table : undefined;
  if (!t) return [];
  const own = new Set<ArrayBuffer>();
  const h = t.hash;
  for (const b of [
    t.strtab,
    t.symtab,
    t.versym,
    h?.buckets,
    h?.chains,
    h?.kind === "gnu" ? h.bloom : undefined,
  ])
    if (b && b.byteOffset === 0 && b.buffer instanceof ArrayBuffer && b.byteLength === b.buffer.byteLength)
      own.add(b.buffer);
  return [...own];
}

/** Records already posted, by file state: asked again, the answer is that the main thread has it. */
const posted = new Set<string>();
const requests: FeedRequest[] = [];
const index = new Map<SoftwareFile, number>();
const walk = walkSoftware(trees);
let walking = true;
let produced = 0;
let pumping = false;
let waiting = false;

/** Too far ahead: pump again when the main thread has taken more (a read asked for starts it too). */
function waitForTaken(): void {
  if (waiting) return;
  const seen = Atomics.load(counts, TAKEN);
  if (produced - seen < ahead) {
    void pump();
    return;
  }
  waiting = true;
  const w = waitAsync(counts, TAKEN, seen);
  const wake = () => {
    waiting = false;
    void pump();
  };
  if (w.async) void w.value.then(wake);
  else wake();
}

async function serve(r: Extract<FeedRequest, { t: "read" }>): Promise<void> {
  if (!r.again && posted.has(r.key)) {
    post({ t: "read", id: r.id });
    return;
  }
  const { record, table } = await readObject(r.local, r.key);
  posted.add(r.key);
  post({ t: "read", id: r.id, record, table: table?.parts() });
}

/** The next step of the walk: an ELF file, with its record unless it was posted already. */
async function feedOne(): Promise<void> {
  const step = walk.next();
  if (step.done) {
    walking = false;
    const { notElf, unreadable, entries } = step.value;
    post({ t: "done", notElf, unreadable, entries });
    return;
  }
  const e = step.value;
  if (!("elf" in e)) {
    post({ t: "alias", index: index.get(e.alias)!, rel: e.rel });
    return;
  }
  const f = e.elf;
  index.set(f, produced++);
  const tree = trees.indexOf(f.tree);
  let key: string;
  try {
    key = statKey(lstatSync(f.local, { bigint: true }));
  } catch {
    post({ t: "elf", tree, rel: f.rel }); // the main thread finds it unreadable itself
    return;
  }
  if (posted.has(key)) {
    post({ t: "elf", tree, rel: f.rel });
    return;
  }
  const { record, table } = await readObject(f.local, key);
  posted.add(key);
  post({ t: "elf", tree, rel: f.rel, record, table: table?.parts() });
}

/** Reads asked for first, then the walk while it is not too far ahead; a message starts it again. */
async function pump(): Promise<void> {
  if (pumping) return;
  pumping = true;
  try {
    for (;;) {
      const r = requests.shift();
      if (r?.t === "read") await serve(r);
      else if (walking && produced - Atomics.load(counts, TAKEN) < ahead) await feedOne();
      else break;
      // let the main thread's messages in (a read it waits for comes before the walk)
      await new Promise((resolve) => setImmediate(resolve));
    }
  } finally {
    pumping = false;
  }
  if (walking) waitForTaken();
}

parentPort!.on("message", (m: FeedRequest) => {
  requests.push(m);
  void pump();
});
void pump();
