/**
 * Hand-made prefix layouts for tests of the checks that read files: a temporary directory filled
 * from a description, and a check context on it (no shell: commands in the layer are tested on
 * the dev layer).
 */
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createContext } from "../../src/checks/context.js";
import type { PrefixShell } from "../../src/checks/shell.js";
import { DEFAULT_SETTINGS, type LayerTarget, targetFromLayer } from "../../src/checks/target.js";
import type { CheckContext } from "../../src/checks/types.js";
import type { Arch } from "../../src/layer/id.js";
import { parseSpec } from "../../src/spec/load.js";
import { resolveLayer } from "../../src/spec/resolve.js";

export type LayoutEntry =
  | string
  | { file: string; mode: number }
  | { link: string }
  | { dir: true; mode?: number }
  | { fifo: true }
  | { charDevice: [number, number] };

export type Layout = Record<string, LayoutEntry>;

/** Write a layout under `root` (paths relative to it; parent directories are created). */
export function writeLayout(root: string, layout: Layout): void {
  for (const [rel, entry] of Object.entries(layout)) {
    const path = join(root, rel);
    mkdirSync(dirname(path), { recursive: true });
    if (typeof entry === "string") writeFileSync(path, entry);
    else if ("file" in entry) {
      writeFileSync(path, entry.file);
      chmodSync(path, entry.mode);
    } else if ("link" in entry) symlinkSync(entry.link, path);
    else if ("dir" in entry) {
      mkdirSync(path, { recursive: true });
      if (entry.mode !== undefined) chmodSync(path, entry.mode);
    } else if ("fifo" in entry) execFileSync("mkfifo", [path]);
    else execFileSync("mknod", [path, "c", String(entry.charDevice[0]), String(entry.charDevice[1])]);
  }
}

/** The hand-made prefix layouts of the check suite's tests (src/checks/testdata/prefixes/). */
export const PREFIX_LAYOUTS = join(import.meta.dirname, "../../src/checks/testdata/prefixes");

/**
 * Copy the layout `name` of testdata/prefixes/ to `dest`, keeping modes and replacing each
 * `@KEY@` of `values` in every file (`@EPREFIX@`: where the layout stands as a prefix).
 */
export function copyPrefixLayout(name: string, dest: string, values: Record<string, string>): void {
  const copy = (from: string, to: string) => {
    mkdirSync(to, { recursive: true });
    for (const e of readdirSync(from, { withFileTypes: true })) {
      const src = join(from, e.name);
      if (e.isDirectory()) copy(src, join(to, e.name));
      else {
        let text = readFileSync(src, "utf8");
        for (const [key, value] of Object.entries(values)) text = text.replaceAll(`@${key}@`, value);
        writeFileSync(join(to, e.name), text);
        chmodSync(join(to, e.name), statSync(src).mode & 0o7777);
      }
    }
  };
  copy(join(PREFIX_LAYOUTS, name), dest);
}

/**
 * A copy of the layout `name` standing as an EESSI prefix `<tmp>/versions/<version>/compat/linux/x86_64`
 * (its startprefix's EPREFIX), with `values(eprefix)` filled in besides `@EPREFIX@`.
 */
export function eessiLayout(
  name: string,
  version: string,
  values: (eprefix: string) => Record<string, string> = () => ({}),
): { eprefix: string; cleanup: () => void } {
  const t = tempDir();
  const eprefix = join(realpathSync(t.dir), `versions/${version}/compat/linux/x86_64`);
  copyPrefixLayout(name, eprefix, { EPREFIX: eprefix, ...values(eprefix) });
  return { eprefix, cleanup: t.cleanup };
}

export function tempDir(name = "compat-checks-"): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), name));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export const NO_SHELL: PrefixShell = {
  unavailable: async () => "commands are not run in unit tests",
  run: async () => {
    throw new Error("no shell in unit tests");
  },
};

/** A bare target for a layout at `local`, seen at `prefix` (default: where it is). */
export function bareTarget(local: string, more: Partial<LayerTarget> = {}): LayerTarget {
  const prefix = more.prefix ?? local;
  return {
    prefix,
    localPrefix: local,
    mount: prefix === local ? undefined : { prefixDir: local, prefix },
    flavor: "debian",
    arch: "x86_64",
    os: "linux",
    version: "2025.06",
    hostLinks: [],
    trustedDirs: undefined,
    sets: [],
    packageAtoms: [],
    settings: DEFAULT_SETTINGS,
    origin: `test layout ${local}`,
    ...more,
  };
}

/** A target from spec YAML, its prefix's files at `local` (seen at the spec's prefix through a prefixDir mount). */
export function specTarget(yaml: string, local: string, arch: Arch = "x86_64"): LayerTarget {
  const { spec } = parseSpec(yaml, "test.yaml");
  const layer = resolveLayer(spec, arch);
  return targetFromLayer(layer, local, { prefixDir: local, prefix: layer.prefix }, "(test layout)");
}

export function contextFor(target: LayerTarget, shell: PrefixShell = NO_SHELL): CheckContext {
  return createContext(target, { shell });
}
