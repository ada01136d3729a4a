/**
 * Thread of the software feed (feed.ts): every file the check reads is read here, once. It answers
 * the main thread's reads first (the layer's libraries, an object's libraries not fed yet), and in
 * between walks the trees, sniffs every file and reads each ELF object's record and symbol table
 * (its sha256 included), posting them in the walk's order, at most `ahead` objects ahead of what the
 * main thread has taken.
 */
import { lstatSync } from "node:fs";
import { parentPort, workerData } from "node:worker_threads";
import type { FeedMessage, FeedRequest } from "./feed.js";
import { type ObjectRecord, readObject, statKey } from "./objects.js";
import { type SoftwareFile, type SoftwareTree, walkSoftware } from "./software.js";

const { trees, ahead } = workerData as { trees: SoftwareTree[]; ahead: number };
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

/** Records already posted, by file state: asked again, the record goes without its table (the main thread has it). */
const posted = new Map<string, ObjectRecord>();
const requests: FeedRequest[] = [];
const index = new Map<SoftwareFile, number>();
const walk = walkSoftware(trees);
let walking = true;
let produced = 0;
let taken = 0;
let pumping = false;

async function serve(r: Extract<FeedRequest, { t: "read" }>): Promise<void> {
  const known = r.again ? undefined : posted.get(r.key);
  if (known) {
    post({ t: "read", id: r.id, record: known });
    return;
  }
  const { record, table } = await readObject(r.local, r.key);
  posted.set(r.key, record);
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
  posted.set(key, record);
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
      else if (walking && produced - taken < ahead) await feedOne();
      else break;
      // let the main thread's messages in (a read it waits for comes before the walk)
      await new Promise((resolve) => setImmediate(resolve));
    }
  } finally {
    pumping = false;
  }
}

parentPort!.on("message", (m: FeedRequest) => {
  if (m.t === "taken") taken = m.count;
  else requests.push(m);
  void pump();
});
void pump();
