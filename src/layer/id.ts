/**
 * A layer's identity: `{stack, version, os, arch}`, one per version and CPU family of a stack. It
 * names the prefix (`…/versions/<version>/compat/<os>/<arch>` by default), the artifact top dir
 * (`<version>/compat/<os>/<arch>`, relative to the repository's `versions/`) and the artifact
 * (`<stack>-<version>-compat-<os>-<arch>-<epoch>.tar.zst`, artifacts/name.ts). This module is the
 * one place that spells the arches and parses layer paths; specs, artifacts, checks, publishers,
 * the SBOM and the server build on it.
 */
import { closest } from "../config/near.js";

export const ARCHES = ["x86_64", "aarch64", "riscv64", "ppc64le"] as const;
export type Arch = (typeof ARCHES)[number];

export interface LayerId {
  /** The stack the layer is for: the first part of its artifacts' names (e.g. `eessi`). */
  stack: string;
  /** The stack's version (e.g. `2025.06`). */
  version: string;
  /** The OS path component (`linux`). */
  os: string;
  arch: Arch;
}

/** What a layer path says: its last three components around `compat`, not yet checked against ARCHES. */
export interface LayerPath {
  version: string;
  os: string;
  arch: string;
}

export const isArch = (a: string | undefined): a is Arch =>
  a !== undefined && (ARCHES as readonly string[]).includes(a);

/** Other names of our arches that people type (Debian's, Gentoo's, Go's, Docker's). */
const ARCH_ALIASES: Record<string, Arch> = {
  amd64: "x86_64",
  "x86-64": "x86_64",
  x64: "x86_64",
  arm64: "aarch64",
  armv8: "aarch64",
  ppc64el: "ppc64le",
  riscv: "riscv64",
};

/** The arch meant by a wrong spelling (`arm64` → `aarch64`), when it is a known alias or a near miss. */
export function archHint(name: string): Arch | undefined {
  const lower = name.toLowerCase();
  return (
    (Object.hasOwn(ARCH_ALIASES, lower) ? ARCH_ALIASES[lower] : undefined) ??
    ARCHES.find((a) => a === lower) ??
    (closest(lower, ARCHES) as Arch | undefined)
  );
}

/** `"arm64": not an architecture, did you mean "aarch64"? (expected one of …)` */
export function notAnArchMessage(name: string): string {
  const hint = archHint(name);
  return `not an architecture${hint ? `, did you mean "${hint}"?` : ""} (expected one of ${ARCHES.join(", ")})`;
}

/** Node's `process.arch` (or uname's) as one of our arches. */
export function nodeArchToArch(a: string): Arch | undefined {
  const table: Record<string, Arch> = {
    x64: "x86_64",
    x86_64: "x86_64",
    arm64: "aarch64",
    aarch64: "aarch64",
    riscv64: "riscv64",
    ppc64: "ppc64le",
    ppc64le: "ppc64le",
  };
  return table[a];
}

/** `<version>/compat/<os>/<arch>`: the artifact top dir, and the prefix below the repository's `versions/`. */
export function layerTopDir(id: Pick<LayerPath, "version" | "os" | "arch">): string {
  return `${id.version}/compat/${id.os}/${id.arch}`;
}

/**
 * A layer's prefix directory (`/cvmfs/r/versions/2025.06/compat/linux/x86_64`, or its copy in a
 * local root): the path ends in `<version>/compat/<os>/<arch>` with a version as a spec has it
 * (a digit first), an os of lower-case letters and an arch-like last component. Undefined otherwise.
 */
export function parseLayerPath(path: string): LayerPath | undefined {
  const g = LAYER_PATH_RE.exec(path)?.groups;
  return g ? { version: g.version!, os: g.os!, arch: g.arch! } : undefined;
}
const LAYER_PATH_RE =
  /(?:^|\/)(?<version>[0-9][0-9A-Za-z._-]*)\/compat\/(?<os>[a-z]+)\/(?<arch>[a-z0-9_]+)\/?$/;

/**
 * A layer as publishers and their histories name it, an artifact's top dir: exactly
 * `<version>/compat/<os>/<arch>`, no component empty, `.` or `..` (it becomes a path on the
 * publishing host). Undefined otherwise.
 */
export function parseTopDir(dir: string): LayerPath | undefined {
  const parts = dir.split("/");
  if (parts.length !== 4 || parts[1] !== "compat" || parts.some((p) => !p || p === "." || p === ".."))
    return undefined;
  return { version: parts[0]!, os: parts[2]!, arch: parts[3]! };
}
