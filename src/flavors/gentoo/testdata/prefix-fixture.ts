/** Shared by the unit tests of the overlays stage's helpers: a gentoo layer and scratch prefix dirs. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import { SHARED_DATA } from "../../../../test/helpers/shared-data.js";
import type { Confinement } from "../../../paths/inside.js";
import { parseSpec } from "../../../spec/load.js";
import { type ResolvedLayer, resolveLayer } from "../../../spec/resolve.js";

/** EESSI's gentoo-overlay etc/portage/sets/ as stored in the shared data. */
export const EESSI_SETS = join(SHARED_DATA, "eessi/gentoo-overlay-sets");

/** A 2025.06 x86_64 gentoo layer with these sets and overlays (name, or name with portageConfig entries). */
export function gentooLayer(sets: string[], overlays: Array<string | [string, string[]]>): ResolvedLayer {
  const entries = overlays.map((o) => {
    const [name, config] = typeof o === "string" ? [o, []] : o;
    return `{ name: ${name}, url: "https://example.org/${name}.git", commit: abcdef1, portageConfig: [${config.join(", ")}] }`;
  });
  const text = `
repository: software.eessi.io
stack: eessi
version: "2025.06"
arches: [x86_64]
flavor: gentoo
gentoo:
  repository: { commit: ${"a".repeat(40)} }
  overlays: [${entries.join(", ")}]
  sets: [${sets.map((s) => `"${s}"`).join(", ")}]
`;
  return resolveLayer(parseSpec(text, "layer.yaml").spec, "x86_64");
}

/** A prefix dir as the stages confine their writes to it (src/paths/inside.ts). */
export const inPrefix = (base: string): Confinement => ({
  base,
  mountedAt: "/cvmfs/software.eessi.io/versions/2025.06/compat/linux/x86_64",
  what: "a path in the prefix",
});

/** Fresh prefix dirs under one scratch dir removed after the file's tests; `put` writes a file in one. */
export function scratchPrefixes(name: string) {
  let scratch = "";
  let n = 0;
  beforeAll(() => {
    scratch = mkdtempSync(join(tmpdir(), `compat-${name}-`));
  });
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));
  return {
    prefixDir(): string {
      const dir = join(scratch, `prefix-${++n}`);
      mkdirSync(dir, { recursive: true });
      return dir;
    },
    put(dir: string, path: string, content: string): void {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), content);
    },
  };
}
