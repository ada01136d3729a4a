/**
 * bench/check: wall time and peak RSS of the full check suite on a layer (target ≤ 10 s on the dev
 * layer), with its peer measured in the same run: the reference way to prove library resolution,
 * running the prefix's loader with `--list` on every ELF object inside the sandbox
 * (reference/relocation.md §4), against our `elf-libraries` check, which proves the same thing.
 *
 *   npx tsx bench/check.ts                      # the dev layer (built once, as the tests share it)
 *   npx tsx bench/check.ts PREFIX|SPEC [--root DIR] [--runs N]
 */
import { posix } from "node:path";
import { createContext } from "../src/checks/context.js";
import { loaderRel } from "../src/checks/loader.js";
import { runChecks } from "../src/checks/runner.js";
import type { LayerTarget } from "../src/checks/target.js";
import { resolveTarget } from "../src/cli/check.js";
import { run } from "../src/exec/run.js";
import { runInLayer } from "../src/exec/sandbox.js";
import { devLayer } from "../test/helpers/dev-layer.js";

function args(): { target?: string; root?: string; runs: number } {
  const a = process.argv.slice(2);
  const out: { target?: string; root?: string; runs: number } = { runs: 3 };
  for (let i = 0; i < a.length; i++) {
    if (a[i] === "--root") out.root = a[++i];
    else if (a[i] === "--runs") out.runs = Number(a[++i]);
    else out.target = a[i];
  }
  return out;
}

async function target(): Promise<LayerTarget> {
  const a = args();
  if (a.target) return resolveTarget(a.target, { root: a.root });
  const dev = await devLayer();
  return resolveTarget(dev.specFile, { root: dev.root, arch: dev.layer.arch });
}

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

async function main(): Promise<void> {
  const t = await target();
  const runs = args().runs;
  process.stderr.write(`bench/check: ${t.origin}, ${runs} runs\n`);

  const suite: number[] = [];
  const elfOnly: number[] = [];
  let last: Awaited<ReturnType<typeof runChecks>> | undefined;
  let walk = 0;
  let elfRead = 0;
  let entries = 0;
  let objects = 0;
  for (let i = 0; i < runs; i++) {
    const ctx = createContext(t);
    const t0 = performance.now();
    last = await runChecks(ctx);
    suite.push(performance.now() - t0);
    const tree = await ctx.tree();
    const elf = await ctx.elf();
    walk = tree.durationMs;
    elfRead = elf.durationMs;
    entries = tree.entries.length;
    objects = elf.objects.length;
    const c2 = createContext(t);
    const t1 = performance.now();
    await runChecks(c2, { only: ["elf-libraries"] });
    elfOnly.push(performance.now() - t1);
  }
  const rssMb = process.resourceUsage().maxRSS / 1024;

  // The peer: the layer's loader lists the libraries of every ELF object, one process each, in the sandbox.
  const ctx = createContext(t);
  const elf = await ctx.elf();
  const withNeeded = elf.objects.filter((o) => o.info.dynamic && o.info.needed.length > 0);
  const loader = posix.join(t.prefix, loaderRel(t.arch));
  const list = withNeeded.map((o) => posix.join(t.prefix, o.rel)).join("\n");
  const script = `n=0; while IFS= read -r f; do "${loader}" --list "$f" >/dev/null 2>&1 || n=$((n+1)); done; echo "$n"`;
  const p0 = performance.now();
  const peer = t.mount
    ? await runInLayer(t.mount, ["/bin/sh", "-c", script], {
        input: list,
        readOnlyLayer: true,
        network: false,
      })
    : await run("/bin/sh", ["-c", script], { input: list });
  const peerMs = performance.now() - p0;

  const sum = last!.summary;
  const ours = median(elfOnly);
  console.log(
    `check suite: ${s(median(suite))} wall, median of ${runs} (target ≤ 10 s); peak RSS ${rssMb.toFixed(0)} MB; ` +
      `${sum.total} checks: ${sum.passed} pass, ${sum.failed} fail, ${sum.skipped} skip`,
  );
  console.log(
    `  shared tree walk ${s(walk)} (${entries} entries); ELF index ${s(elfRead)} (${objects} objects)`,
  );
  console.log(
    `  elf-libraries alone: ${s(ours)} for ${withNeeded.length} objects with DT_NEEDED; ` +
      `peer (ld.so --list on each, in the sandbox, given the list): ${s(peerMs)}, ${peer.stdout.trim()} failed → ${(peerMs / ours).toFixed(1)}× the time of ours`,
  );
  for (const r of last!.results)
    process.stderr.write(`  ${r.status.padEnd(4)} ${r.id.padEnd(20)} ${s(r.durationMs)}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`bench/check: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
