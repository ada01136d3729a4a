/**
 * The debian flavor's "configure" stage: the environment fixes that make a relocated tree work at
 * run time (relocation.md §6), then startprefix. Runs after relocation (layer/relocate.ts), on the
 * tree at its place in the staging root; `inLayer` runs the layer's perl once to read its @INC.
 *
 *   const r = await configureDebianLayer({ flavor, treeDir, prefix, inLayer, logTo });
 *   formatConfigureReport(r)   // lines for the stage log
 *
 * In order: ld.so and libc same-length patches (glibc.ts), perl confinement (perl.ts), Lmod's text
 * rewrite, ldd's RTLDLIST and Lmod's Core MODULEPATH (textreloc.ts), the variables (environment.ts), then
 * $EPREFIX/startprefix, etc/compat/env.sh and etc/compat/bashrc (layer/startprefix.ts). Every step
 * can run again on its own output (the stage is resumable).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Writable } from "node:stream";
import type { InLayer } from "../layer/locales.js";
import { multiarchTriplet } from "../layer/relocate.js";
import { type EnvVar, writeStartprefix } from "../layer/startprefix.js";
import type { FlavorName } from "../spec/schema.js";
import { debianLayerEnvironment } from "./environment.js";
import { disableHostPaths, type HostPathsReport } from "./glibc.js";
import { compiledPerlInc, confinePerl, type PerlEnvironment } from "./perl.js";
import {
  relocateLdd,
  relocatePackageText,
  type TextRelocationReport,
  useLmodCoreModulePath,
} from "./textreloc.js";

/** Packages whose text files name absolute /usr and /etc paths that must point into the prefix. */
export const TEXT_RELOCATED_PACKAGES = ["lmod"];

export interface ConfigureReport {
  triplet: string;
  hostPaths: HostPathsReport;
  perl?: PerlEnvironment;
  text: TextRelocationReport;
  ldd: boolean;
  /** etc/lmod/modulespath now names modulefiles/Core, as Gentoo's Lmod. */
  lmodCore: boolean;
  env: EnvVar[];
  startprefix: string;
}

export async function configureDebianLayer(opts: {
  /** The flavor the layer is built by, named in the files startprefix writes. */
  flavor: FlavorName;
  treeDir: string;
  prefix: string;
  inLayer: InLayer;
  logTo?: Writable;
}): Promise<ConfigureReport> {
  const { treeDir, prefix } = opts;
  const triplet = await multiarchTriplet(treeDir);
  const hostPaths = await disableHostPaths(treeDir, triplet);
  let perl: PerlEnvironment | undefined;
  if (await hasPerl(treeDir)) {
    const inc = await compiledPerlInc(opts.inLayer, prefix);
    perl = await confinePerl({ treeDir, prefix, inc });
  }
  const text = await relocatePackageText({ treeDir, prefix, packages: TEXT_RELOCATED_PACKAGES });
  const ldd = await relocateLdd({ treeDir, prefix });
  const lmodCore = await useLmodCoreModulePath({ treeDir, prefix });
  const env = await debianLayerEnvironment({ treeDir, prefix, triplet, ...(perl ? { perl } : {}) });
  const startprefix = await writeStartprefix(treeDir, { prefix, flavor: opts.flavor, env });
  const report: ConfigureReport = {
    triplet,
    hostPaths,
    ...(perl ? { perl } : {}),
    text,
    ldd,
    lmodCore,
    env,
    startprefix,
  };
  for (const line of formatConfigureReport(report)) opts.logTo?.write(`${line}\n`);
  return report;
}

async function hasPerl(treeDir: string): Promise<boolean> {
  return existsSync(join(treeDir, "usr/bin/perl"));
}

export function formatConfigureReport(r: ConfigureReport): string[] {
  const lines: string[] = [];
  for (const f of r.hostPaths.files) {
    const counts = Object.entries(f.counts).map(([s, n]) => `${s}×${n}`);
    lines.push(
      `host paths disabled in ${f.file}: ${counts.join(", ")}${f.alreadyPatched.length ? " (already patched)" : ""}`,
    );
  }
  if (r.perl) {
    lines.push(`perl: PERL5LIB=${r.perl.PERL5LIB}, PERL5OPT=${r.perl.PERL5OPT}`);
    if (r.perl.missing.length)
      lines.push(`perl: @INC entries with no copy in the layer: ${r.perl.missing.join(" ")}`);
  } else lines.push("perl: not in the layer");
  lines.push(
    `text relocation (${r.text.packages.join(", ")}): ${r.text.substitutions} paths in ${r.text.changed.length} of ${r.text.files} files${r.text.notInstalled.length ? `; not installed: ${r.text.notInstalled.join(", ")}` : ""}`,
  );
  lines.push(`ldd: ${r.ldd ? "RTLDLIST points into the prefix" : "not in the layer"}`);
  if (r.lmodCore) lines.push("lmod: MODULEPATH starts with modulefiles/Core, as in Gentoo's Lmod");
  lines.push(`environment: ${r.env.map((v) => v.name).join(" ")}`);
  lines.push(`wrote ${r.startprefix}`);
  return lines;
}
