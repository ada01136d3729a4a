/**
 * Host links: `$EPREFIX/etc/passwd -> /etc/passwd` and the like (DESIGN.md "Host and variant
 * symlinks"). Made in two phases, as EESSI's role does: plain links during the build (a variant
 * link `$(VAR:-default)` only resolves under a CVMFS client, and a literal one breaks DNS and
 * users inside the build), then their final form at the end (the variant when enabled).
 *
 * Like the role's create_host_symlinks.yml, whatever is at a link's path and is not a symlink
 * (a file, or a directory such as var/tmp) is removed first; an existing link is replaced.
 *
 * The links are made inside the sandbox, with the layer at its real prefix path, so a parent
 * directory that is itself a link into the prefix (lib64 -> usr/lib64, or a relocated absolute
 * link) resolves the way it will for users of the layer.
 */
import type { LayerMount, LayerRunOptions } from "../exec/sandbox.js";
import { runInLayer } from "../exec/sandbox.js";
import type { HostLink } from "../spec/resolve.js";

export type HostLinkPhase = "plain" | "final";

export interface LinkAction {
  /** Absolute path of the link (under EPREFIX). */
  link: string;
  target: string;
}

export function linkActions(prefix: string, links: readonly HostLink[], phase: HostLinkPhase): LinkAction[] {
  return links.map((l) => ({ link: `${prefix}/${l.path}`, target: phase === "plain" ? l.plain : l.final }));
}

const sq = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

/**
 * The shell script that makes the links. It prints `replaced <path>` for each non-link it removed
 * and `linked <path>` for each link it made.
 */
export function hostLinkScript(actions: readonly LinkAction[]): string {
  const lines = [
    "set -eu",
    "link() {",
    "  d=$1; t=$2",
    '  if [ -e "$d" ] && [ ! -L "$d" ]; then rm -rf -- "$d"; echo "replaced $d"; fi',
    '  mkdir -p -- "$(dirname -- "$d")"',
    '  ln -sfn -- "$t" "$d"',
    '  echo "linked $d"',
    "}",
  ];
  for (const a of actions) lines.push(`link ${sq(a.link)} ${sq(a.target)}`);
  return `${lines.join("\n")}\n`;
}

export interface HostLinkResult {
  linked: string[];
  /** Paths where a file or directory was removed to make room for the link. */
  replaced: string[];
}

/**
 * Make the host links of a layer, in their plain or final form. `mount` shows the layer at
 * `prefix` (a repository root, or a prefix being built aside).
 */
export async function makeHostLinks(
  mount: LayerMount,
  prefix: string,
  links: readonly HostLink[],
  phase: HostLinkPhase,
  opts: LayerRunOptions = {},
): Promise<HostLinkResult> {
  if (links.length === 0) return { linked: [], replaced: [] };
  const r = await runInLayer(
    mount,
    ["/bin/sh", "-c", hostLinkScript(linkActions(prefix, links, phase))],
    opts,
  );
  const out = r.stdout.split("\n");
  return {
    linked: out.filter((l) => l.startsWith("linked ")).map((l) => l.slice(7)),
    replaced: out.filter((l) => l.startsWith("replaced ")).map((l) => l.slice(9)),
  };
}
