/**
 * The development layer every integration test shares: examples/dev.yaml built once for the host's
 * arch into `.cache/test-layers/<key>/`, where the key hashes the spec and the code that builds it
 * (so a change to either builds it again, and an unchanged tree reuses it across files and runs).
 * A lock file makes parallel vitest workers wait for one build instead of each building.
 *
 *   const dev = await devLayer();
 *   dev.localPrefix   // the layer on disk: .cache/test-layers/<key>/root/versions/2025.06/compat/linux/x86_64
 *   dev.prefix        // where it lives in the sandbox: /cvmfs/software.example.org/versions/…/x86_64
 *   runInLayer({ root: dev.root, repository: dev.layer.repository }, ["sh", "-c", "…"])
 *
 * Do not modify the layer: other test files use it. Copy it (cp -a) to change it.
 *
 *   const old = await outdatedDevLayer();   // examples/dev-without-security.yaml, cached the same way
 */
import { createHash } from "node:crypto";
import { createWriteStream, existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { basename, join, relative, resolve } from "node:path";
import { InputError } from "../../src/errors.js";
import type { Arch } from "../../src/layer/id.js";
import { buildLayer } from "../../src/pipeline/build.js";
import { PidLock } from "../../src/pipeline/lock.js";
import { HumanProgress } from "../../src/pipeline/progress.js";
import { type LoadedSpec, loadSpec } from "../../src/spec/load.js";
import { localPrefix, pickArch, type ResolvedLayer, resolveLayer } from "../../src/spec/resolve.js";
import type { LayerSpec } from "../../src/spec/schema.js";

export interface DevLayer {
  /** The local repository root (stands for /cvmfs/<repository>). */
  root: string;
  /** EPREFIX as the layer sees it (inside the sandbox). */
  prefix: string;
  /** The layer's directory on disk. */
  localPrefix: string;
  spec: LayerSpec;
  layer: ResolvedLayer;
  specFile: string;
  /** The build's run directory (logs, timings). */
  runDir: string;
}

const PROJECT = resolve(import.meta.dirname, "../..");
export const DEV_SPEC = join(PROJECT, "examples/dev.yaml");
/** The same layer built from bookworm without its security updates (the update loop's tests start from it). */
export const OUTDATED_DEV_SPEC = join(PROJECT, "examples/dev-without-security.yaml");
const CACHE = join(PROJECT, ".cache/test-layers");
/** The code a layer is made by: a change here means another layer. */
const BUILD_CODE = [
  "src/pipeline",
  "src/flavors",
  "src/debian",
  "src/layer",
  "src/exec",
  "src/spec",
  "package-lock.json",
];
const WAIT_MS = 15 * 60_000;

function filesUnder(path: string): string[] {
  const full = join(PROJECT, path);
  if (!existsSync(full)) return [];
  if (statSync(full).isFile()) return [path];
  return readdirSync(full, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile() && d.name.endsWith(".ts") && !d.name.endsWith(".test.ts"))
    .map((d) => relative(PROJECT, join(d.parentPath, d.name)))
    .filter((p) => !p.includes("/testdata/"));
}

/** sha256 over the spec's hash and the building code, cut to 16 hex digits. */
export function devLayerKey(loaded: LoadedSpec): string {
  const h = createHash("sha256").update(loaded.hash);
  for (const f of BUILD_CODE.flatMap(filesUnder).sort())
    h.update(f)
      .update("\0")
      .update(readFileSync(join(PROJECT, f)));
  return h.digest("hex").slice(0, 16);
}

async function acquireWaiting(file: string, what: string): Promise<PidLock> {
  const until = Date.now() + WAIT_MS;
  for (;;) {
    try {
      return await PidLock.acquire(file, what);
    } catch (e) {
      if (!(e instanceof InputError) || Date.now() > until) throw e;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

const cached = new Map<string, Promise<DevLayer>>();

/** The shared development layer, built on first use. */
export function devLayer(): Promise<DevLayer> {
  return cachedLayer(DEV_SPEC);
}

/** examples/dev-without-security.yaml's layer, built on first use and cached like devLayer(). */
export function outdatedDevLayer(): Promise<DevLayer> {
  return cachedLayer(OUTDATED_DEV_SPEC);
}

/** Whether a cache entry `<spec name>-<16 hex>` is one of spec `name`'s (not of `name-other`'s). */
const layerOfSpec = (entry: string, name: string) => /^(.*)-[0-9a-f]{16}$/.exec(entry)?.[1] === name;

/**
 * A spec's layer for `arch` (default: the host's), built on first use and cached like devLayer():
 * a foreign arch is built under qemu-user (test/integration/foreign-arch.test.ts).
 */
export function cachedLayer(specFile: string, arch?: Arch): Promise<DevLayer> {
  const id = `${specFile}:${arch ?? ""}`;
  let p = cached.get(id);
  if (!p) {
    p = makeLayer(specFile, arch);
    cached.set(id, p);
  }
  return p;
}

async function makeLayer(specFile: string, arch?: Arch): Promise<DevLayer> {
  const loaded = await loadSpec(specFile);
  const layer = resolveLayer(loaded.spec, pickArch(loaded.spec, arch));
  // <spec name>[-<arch>]-<key>: a layer of an older build of the same spec is removed, other specs' stay
  const name = `${basename(specFile, ".yaml")}${arch ? `-${arch}` : ""}`;
  const key = `${name}-${devLayerKey(loaded)}`;
  const dir = join(CACHE, key);
  const root = join(dir, "root", layer.repository);
  const runsDir = join(dir, "runs");
  const ready = join(dir, "ready.json");
  const result = (runDir: string): DevLayer => ({
    root,
    prefix: layer.prefix,
    localPrefix: localPrefix(layer, root),
    spec: loaded.spec,
    layer,
    specFile,
    runDir,
  });
  if (existsSync(ready))
    return result((JSON.parse(readFileSync(ready, "utf8")) as { runDir: string }).runDir);

  await mkdir(CACHE, { recursive: true });
  const lock = await acquireWaiting(join(CACHE, `${key}.lock`), `the build of the test layer ${key}`);
  try {
    if (existsSync(ready))
      return result((JSON.parse(readFileSync(ready, "utf8")) as { runDir: string }).runDir);
    // layers of older code or specs are not used again
    for (const e of readdirSync(CACHE))
      if (e !== key && !e.endsWith(".lock") && (layerOfSpec(e, name) || /^[0-9a-f]{16}$/.test(e)))
        await rm(join(CACHE, e), { recursive: true, force: true });
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    const log = createWriteStream(join(dir, "build.log"));
    const outcome = await buildLayer({
      specFile,
      arch: layer.arch,
      root,
      runsDir,
      reporter: new HumanProgress(log, false),
    }).finally(() => log.end());
    await writeFile(ready, JSON.stringify({ runDir: outcome.runDir, durationMs: outcome.durationMs }));
    return result(outcome.runDir);
  } finally {
    await lock.release();
  }
}
