/**
 * A stage context for running one flavor stage in a test, as the pipeline makes it: the layer of
 * a spec text for x86_64, a work directory `<scratch>/<name>` with the prefix in `prefix/`, the
 * log and the notes kept for the test to read.
 *
 *   const ctx = stageContext({ scratch, name: "repos", specText, specFile, buildRoot });
 *   await stageOf(ctx, "repos").run(ctx); ctx.notes; ctx.logText()
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import type { BuildRoot } from "../../src/buildroot/types.js";
import type { StageContext } from "../../src/flavors/types.js";
import { createStageContext } from "../../src/pipeline/build.js";
import { parseSpec } from "../../src/spec/load.js";
import { resolveLayer } from "../../src/spec/resolve.js";

export type TestStageContext = StageContext & { notes: string[]; logText: () => string };

export function stageContext(o: {
  scratch: string;
  name: string;
  specText: string;
  /** Where the spec would be: relative paths in it (a bootstrap script) are relative to its directory. */
  specFile: string;
  buildRoot?: BuildRoot;
}): TestStageContext {
  const layer = resolveLayer(parseSpec(o.specText, "gentoo.yaml").spec, "x86_64");
  const workDir = join(o.scratch, o.name);
  mkdirSync(join(workDir, "prefix"), { recursive: true });
  const log = new PassThrough();
  let logged = "";
  log.on("data", (c: Buffer) => {
    logged += c.toString();
  });
  const notes: string[] = [];
  const ctx = createStageContext({
    layer,
    specFile: o.specFile,
    specText: o.specText,
    specHash: "0".repeat(64),
    runId: `test-${o.name}`,
    runDir: workDir,
    prefixDir: join(workDir, "prefix"),
    workDir,
    ...(o.buildRoot ? { buildRoot: o.buildRoot } : {}),
    startedAt: new Date(),
    log,
    signal: new AbortController().signal,
    onNote: (m) => notes.push(m),
  });
  return Object.assign(ctx, { notes, logText: () => logged });
}
