/**
 * Keep the layer's perl inside the layer (relocation.md §6.3). Debian's perl has its @INC compiled
 * in (/usr/share/perl/5.36, /usr/lib/x86_64-linux-gnu/perl-base …), so the relocated perl loads the
 * *host's* modules, XS ones included, and fails on a host with another perl ("loadable library and
 * perl binaries are mismatched"). The fix:
 * - PERL5LIB = the prefix copies of that @INC (those that exist in the tree), searched first;
 * - PERL5OPT=-MCompatINC, a module written by us that drops every @INC entry outside the prefix,
 *   so a module missing from the layer fails instead of loading from the host.
 *
 *   const inc = await compiledPerlInc(inLayer, prefix);             // runs the layer's perl once
 *   const env = await confinePerl({ treeDir, prefix, inc });        // writes CompatINC.pm
 *   env → { PERL5LIB: "<P>/etc/perl:<P>/usr/lib/x86_64-linux-gnu/perl5/5.36:…", PERL5OPT: "-MCompatINC" }
 */
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { InputError } from "../errors.js";
import type { InLayer } from "../layer/locales.js";

/** Where CompatINC.pm goes, relative to the prefix. */
export const COMPAT_PERL_DIR = "usr/lib/compat/perl5";

export interface PerlEnvironment {
  PERL5LIB: string;
  PERL5OPT: string;
  /** The compiled @INC entries that had no copy in the tree (left out of PERL5LIB). */
  missing: string[];
}

/** The @INC the layer's perl has compiled in (run with an empty environment). */
export async function compiledPerlInc(inLayer: InLayer, prefix: string): Promise<string[]> {
  const r = await inLayer([`${prefix}/usr/bin/perl`, "-e", 'print "$_\\n" for @INC'], { env: {} });
  const inc = r.stdout.split("\n").filter(Boolean);
  if (inc.length === 0) throw new InputError(`${prefix}/usr/bin/perl printed no @INC`);
  return inc;
}

export function compatIncModule(prefix: string): string {
  return [
    "# Written by compat: keeps @INC inside the layer at",
    `# ${prefix}, so that a module missing from the layer fails`,
    "# instead of being loaded from the host (whose perl may differ). Loaded through PERL5OPT=-MCompatINC.",
    "package CompatINC;",
    `my $prefix = '${prefix.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}/';`,
    "@INC = grep { ref($_) || index($_, $prefix) == 0 } @INC;",
    "1;",
    "",
  ].join("\n");
}

/** Write CompatINC.pm into the tree and return the perl variables for startprefix. */
export async function confinePerl(opts: {
  treeDir: string;
  prefix: string;
  inc: string[];
}): Promise<PerlEnvironment> {
  const { treeDir, prefix } = opts;
  const dir = join(treeDir, COMPAT_PERL_DIR);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "CompatINC.pm"), compatIncModule(prefix), { mode: 0o644 });
  const lib: string[] = [];
  const missing: string[] = [];
  for (const d of opts.inc) {
    const inTree = d.startsWith(`${prefix}/`) ? d.slice(prefix.length) : d;
    if (!d.startsWith("/")) continue;
    if (existsSync(join(treeDir, inTree))) lib.push(`${prefix}${inTree}`);
    else missing.push(d);
  }
  lib.push(`${prefix}/${COMPAT_PERL_DIR}`);
  return { PERL5LIB: [...new Set(lib)].join(":"), PERL5OPT: "-MCompatINC", missing };
}
