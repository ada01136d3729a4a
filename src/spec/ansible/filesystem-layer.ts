/**
 * The second level of EESSI's variant symlinks lives in the filesystem-layer repository
 * (`create_cvmfs_content_structure_vars_<repo>.yml`, key `symlinks`): `defaults/nvidia ->
 * $(EESSI_NVIDIA_OVERRIDE_DEFAULT:-/dev/null)` and so on. The fallback of each entry outside
 * `defaults/compat/` is the plain target a layer link needs when variant links are off.
 */
import { isMap, isScalar } from "yaml";
import { InputError } from "../../errors.js";
import { parseVariant } from "../resolve.js";
import { YamlSource } from "./sources.js";

export interface DefaultsTree {
  file: string;
  /** `nvidia` → `/dev/null`: entries of `defaults/` outside `compat/`, by name below `defaults/`. */
  hostDefaults: Record<string, string>;
  /** Every path of the `symlinks` mapping, as written (to tell a missing entry from an unknown one). */
  entries: Set<string>;
}

export function readDefaultsTree(text: string, file: string): DefaultsTree {
  const src = new YamlSource(text, file);
  const problems = src.syntaxProblems();
  if (problems.length > 0)
    throw new InputError(`${file}:${problems[0]!.line}:${problems[0]!.col} ${problems[0]!.message}`);
  const symlinks = src.node(["symlinks"]);
  if (!symlinks || !isMap(symlinks))
    throw new InputError(
      `${file}: no \`symlinks:\` mapping (expected EESSI's filesystem-layer content structure file)`,
    );
  const hostDefaults: Record<string, string> = {};
  const entries = new Set<string>();
  for (const pair of symlinks.items) {
    if (!isScalar(pair.key) || !isScalar(pair.value)) continue;
    const path = String(pair.key.value);
    const target = String(pair.value.value);
    entries.add(path);
    if (!path.startsWith("defaults/") || path.startsWith("defaults/compat/")) continue;
    const name = path.slice("defaults/".length);
    const variant = parseVariant(target);
    const plain = variant ? variant.fallback : target;
    if (plain.startsWith("/")) hostDefaults[name] = plain;
  }
  return { file, hostDefaults, entries };
}
