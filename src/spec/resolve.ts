/**
 * Per-architecture resolution of a layer spec: the real prefix path, where it lives in the local
 * repository root, the package atoms after the platform filters, and the host links in their
 * plain and variant forms. Pure: values in, values out.
 */
import { resolve as resolvePath } from "node:path";
import { InputError } from "../errors.js";
import type { SectionResolution } from "../flavors/section.js";
import { SPEC_SECTIONS } from "../flavors/sections.js";
import { type Arch, archHint, type LayerId, nodeArchToArch } from "../layer/id.js";
import {
  absolutePathProblem,
  joinInside,
  type PathProblem,
  relativeInside,
  safeRelative,
  UnsafePathError,
} from "../paths/rules.js";
import { type FieldProblem, formatPath, SpecFieldError } from "./problem.js";
import type { LayerSpec } from "./schema.js";

export interface HostLink {
  /** The link's path relative to EPREFIX, e.g. `etc/passwd`. */
  path: string;
  /** Target used during the build and when variant links are off. */
  plain: string;
  /** Final target: the variant expression when enabled and defined for this link, else the plain target. */
  final: string;
  /** The variant expression `$(VAR:-default)`, when the link has one. */
  variant?: string;
}

/** A spec's layer for one arch: its identity, prefix, links, sets and packages, placeholders expanded. */
export interface ResolvedLayer extends LayerId {
  spec: LayerSpec;
  repository: string;
  /** The version without dots, as used in variable names (2026.06 → 202606). */
  versionTag: string;
  /** EPREFIX as users see it, e.g. /cvmfs/software.eessi.io/versions/2025.06/compat/linux/x86_64 */
  prefix: string;
  /** `/cvmfs/<repository>` */
  repositoryMount: string;
  /** The prefix relative to the repository mount, e.g. versions/2025.06/compat/linux/x86_64 */
  prefixInRepository: string;
  hostLinks: HostLink[];
  variablePrefix: string;
  trustedDirs: string[];
  sets: string[];
  /** Gentoo atoms to install after the arch filters (`=cat/pkg-ver::overlay`); empty for debian. */
  packageAtoms: string[];
}

export type Placeholders = Record<string, string>;

const PLACEHOLDER_RE = /\{([A-Za-z_]+)\}/g;

/** Expand `{name}` placeholders; an unknown one is a SpecFieldError naming the field (`at`). */
export function expandPlaceholders(template: string, vars: Placeholders, at: PropertyKey[]): string {
  return template.replace(PLACEHOLDER_RE, (whole, name: string) => {
    const v = Object.hasOwn(vars, name) ? vars[name] : undefined;
    if (v === undefined) {
      const known = Object.keys(vars)
        .map((k) => `{${k}}`)
        .join(" ");
      throw new SpecFieldError(`${formatPath(at)}: unknown placeholder ${whole}`, [
        { path: at, message: `unknown placeholder ${whole} (placeholders here are ${known})` },
      ]);
    }
    return v;
  });
}

export function placeholdersFor(spec: LayerSpec, arch: Arch): Placeholders {
  const base: Placeholders = {
    repository: spec.repository,
    stack: spec.stack,
    version: spec.version,
    versionTag: spec.version.replaceAll(".", ""),
    os: spec.os,
    arch,
  };
  return { ...base, prefix: expandPlaceholders(spec.prefix, base, ["prefix"]) };
}

/**
 * Collects the problems of a resolution: `check` runs `fn` and keeps the SpecFieldError's or
 * UnsafePathError's problems (at `at`) instead of stopping at the first; `throwIfAny` ends it.
 */
class Problems {
  readonly list: FieldProblem[] = [];

  add(at: PropertyKey[], message: string): void {
    this.list.push({ path: at, message });
  }

  /** A path problem of the resolved value (rules.ts), with what would be right. */
  addPath(at: PropertyKey[], value: string, p: PathProblem | undefined, expected: string): boolean {
    if (p) this.add(at, `${JSON.stringify(value)} ${p.message} (expected ${expected})`);
    return p !== undefined;
  }

  check<T>(at: PropertyKey[], fn: () => T): T | undefined {
    try {
      return fn();
    } catch (e) {
      if (e instanceof SpecFieldError) this.list.push(...e.problems);
      else if (e instanceof UnsafePathError)
        this.add(at, `${JSON.stringify(e.value)} ${e.reason}${e.hint ? ` (${e.hint})` : ""}`);
      else throw e;
      return undefined;
    }
  }

  throwIfAny(what: string): void {
    const n = this.list.length;
    if (n > 0) throw new SpecFieldError(`invalid ${what} (${n} problem${n === 1 ? "" : "s"})`, this.list);
  }
}

export function pickArch(spec: LayerSpec, arch: string | undefined, hostArch: string = process.arch): Arch {
  if (arch === undefined) {
    const host = nodeArchToArch(hostArch);
    if (host && spec.arches.includes(host)) return host;
    if (spec.arches.length === 1) return spec.arches[0]!;
    throw new InputError(`the spec lists several arches (${spec.arches.join(", ")}): choose one with --arch`);
  }
  if (!(spec.arches as string[]).includes(arch))
    throw new InputError(`--arch ${arch}: not one of the spec's arches (${spec.arches.join(", ")})`, {
      hint: archHintLine(arch, spec.arches),
    });
  return arch as Arch;
}

function archHintLine(arch: string, arches: readonly Arch[]): string | undefined {
  const meant = archHint(arch);
  return meant && arches.includes(meant) ? `did you mean --arch ${meant}?` : undefined;
}

const VARIANT_RE = /^\$\(([A-Za-z_][A-Za-z0-9_]*):-([^()]*)\)$/;

export interface VariantExpression {
  variable: string;
  fallback: string;
}

/** Parse a CVMFS variant symlink target `$(VAR:-default)`; undefined when `s` is not one. */
export function parseVariant(s: string): VariantExpression | undefined {
  const m = VARIANT_RE.exec(s);
  return m ? { variable: m[1]!, fallback: m[2]! } : undefined;
}

/** The name of the variable for a host path: `/etc/hosts.equiv` → `ETC_HOSTS_EQUIV`. */
export function variableSuffix(hostPath: string): string {
  return hostPath
    .replace(/^\/+/, "")
    .toUpperCase()
    .replace(/[^A-Z0-9]/g, "_");
}

const LINK_PATH_EXPECTED = "a path below EPREFIX, e.g. etc/hosts or {prefix}/etc/hosts";

/**
 * The host links of one arch. Each link's path is proven to be below EPREFIX (no `..`, not EPREFIX
 * itself), and no link is inside another (it would be made through that link, on the host); a
 * problem throws a SpecFieldError naming the entry.
 */
export function resolveHostLinks(
  spec: LayerSpec,
  vars: Placeholders,
): { links: HostLink[]; variablePrefix: string } {
  const v = spec.variantSymlinks;
  const problems = new Problems();
  const defaultsAt = ["variantSymlinks", "defaultsDir"];
  const defaultsDir = (
    problems.check(defaultsAt, () => expandPlaceholders(v.defaultsDir, vars, defaultsAt)) ?? "/"
  ).replace(/\/+$/, "");
  problems.addPath(defaultsAt, defaultsDir, absolutePathProblem(defaultsDir), "an absolute path");
  const variablePrefix = v.variablePrefix
    ? (problems.check(["variantSymlinks", "variablePrefix"], () =>
        expandPlaceholders(v.variablePrefix!, vars, ["variantSymlinks", "variablePrefix"]),
      ) ?? "")
    : `${spec.stack.toUpperCase().replace(/[^A-Z0-9]/g, "_")}_${vars.versionTag}`;
  const prefix = vars.prefix!;

  const plainOf = (fallback: string, at: PropertyKey[]): string | undefined => {
    if (fallback.startsWith(`${defaultsDir}/compat/`)) return fallback.slice(`${defaultsDir}/compat`.length);
    if (fallback.startsWith(`${defaultsDir}/`)) {
      const name = fallback.slice(defaultsDir.length + 1);
      // own keys only: `constructor` or `__proto__` must not find Object's
      const target = Object.hasOwn(v.hostDefaults, name) ? v.hostDefaults[name] : undefined;
      if (target === undefined) {
        problems.add(
          at,
          `${fallback} is in the repository's defaults tree but has no plain target (expected variantSymlinks.hostDefaults.${name}, e.g. /dev/null)`,
        );
        return undefined;
      }
      return target;
    }
    return fallback;
  };

  const links: HostLink[] = [];
  const entryOf: number[] = [];
  spec.hostSymlinks.forEach((entry, i) => {
    const at = ["hostSymlinks", i];
    if (typeof entry === "string") {
      const expected = "an absolute host path below /, such as /etc/passwd";
      if (problems.addPath(at, entry, absolutePathProblem(entry, { normalised: true }), expected)) return;
      const variant = `$(${variablePrefix}_COMPAT_${variableSuffix(entry)}:-${defaultsDir}/compat${entry})`;
      links.push({ path: entry.slice(1), plain: entry, variant, final: v.enabled ? variant : entry });
      entryOf.push(i);
      return;
    }
    const destAt = [...at, "dest"];
    const path = problems.check(destAt, () => {
      const dest = expandPlaceholders(entry.dest, vars, destAt);
      return dest.startsWith("/")
        ? relativeInside(prefix, dest, `the link ${dest}`, { expected: LINK_PATH_EXPECTED })
        : safeRelative(dest, `the link ${dest}`, LINK_PATH_EXPECTED);
    });
    const srcAt = [...at, "src"];
    const src = problems.check(srcAt, () => expandPlaceholders(entry.src, vars, srcAt));
    if (path === undefined || src === undefined) return;
    if (src.startsWith("$(")) {
      const parsed = parseVariant(src);
      if (!parsed) {
        problems.add(srcAt, `${src} is not a variant symlink (expected $(VARIABLE:-/default/path))`);
        return;
      }
      const plain = plainOf(parsed.fallback, srcAt);
      if (plain === undefined) return;
      links.push({ path, plain, variant: src, final: v.enabled ? src : plain });
    } else {
      links.push({ path, plain: src, final: src });
    }
    entryOf.push(i);
  });
  const seen = new Map<string, number>();
  links.forEach((l, i) => {
    const other = seen.get(l.path);
    if (other !== undefined)
      problems.add(
        ["hostSymlinks", entryOf[i]!],
        `${l.path} is linked twice (entries ${other} and ${entryOf[i]})`,
      );
    seen.set(l.path, entryOf[i]!);
  });
  for (const [i, l] of links.entries()) {
    const outer = links.find((o) => l.path.startsWith(`${o.path}/`));
    if (outer)
      problems.add(
        ["hostSymlinks", entryOf[i]!],
        `${l.path} is inside the host link ${outer.path} (entry ${entryOf[links.indexOf(outer)]}): it would be made through that link, on the host (expected links that are not inside one another)`,
      );
  }
  problems.throwIfAny("host symlinks");
  return { links, variablePrefix };
}

/**
 * The spec for one arch, every templated value expanded and every value that becomes a path
 * checked again after expanding (src/paths/rules.ts). Throws a SpecFieldError listing each
 * problem with its field; resolutionProblems() collects them for every arch.
 */
export function resolveLayer(spec: LayerSpec, arch: Arch): ResolvedLayer {
  const problems = new Problems();
  const vars = placeholdersFor(spec, arch);
  const repositoryMount = `/cvmfs/${spec.repository}`;
  const prefix = vars.prefix!;
  const prefixInRepository = problems.check(["prefix"], () =>
    relativeInside(repositoryMount, prefix, "prefix", { expected: `a path below ${repositoryMount}` }),
  );
  const hostLinks = problems.check([], () => resolveHostLinks(spec, vars));
  const osArch = `${spec.os}-${arch}`;
  const part = sectionPart(spec, osArch, vars, problems);
  problems.throwIfAny("layer spec values");
  const { links, variablePrefix } = hostLinks!;
  return {
    spec,
    arch,
    os: spec.os,
    repository: spec.repository,
    stack: spec.stack,
    version: spec.version,
    versionTag: vars.versionTag!,
    prefix,
    repositoryMount,
    prefixInRepository: prefixInRepository!,
    hostLinks: links,
    variablePrefix,
    trustedDirs: part.trustedDirs ?? [],
    sets: part.sets ?? [],
    packageAtoms: part.packageAtoms ?? [],
  };
}

/**
 * The spec's sections' parts of the resolved layer (each section's `resolve`, for every section the
 * spec has, as the sections' checks run), their problems kept in `problems`.
 */
function sectionPart(
  spec: LayerSpec,
  osArch: string,
  vars: Placeholders,
  problems: Problems,
): SectionResolution {
  const out: SectionResolution = {};
  for (const section of SPEC_SECTIONS) {
    const value = (spec as Record<string, unknown>)[section.key];
    if (!("resolve" in section) || value === undefined) continue;
    const part = section.resolve(value as never, {
      osArch,
      expand: (list, field, check, expected) =>
        list.map((t, i) => {
          const at = [section.key, field, i];
          const v = problems.check(at, () => expandPlaceholders(t, vars, at)) ?? t;
          problems.addPath(at, v, check(v), expected);
          return v;
        }),
    });
    Object.assign(out, part);
  }
  return out;
}

/**
 * Every problem of the spec's values once resolved, for each of its arches (the same problem for
 * several arches once). Pure; load.ts reports them with their line, as it does the schema's.
 */
export function resolutionProblems(spec: LayerSpec): FieldProblem[] {
  const out = new Map<string, FieldProblem>();
  for (const arch of spec.arches) {
    try {
      resolveLayer(spec, arch);
    } catch (e) {
      if (!(e instanceof SpecFieldError)) throw e;
      for (const p of e.problems) out.set(`${formatPath(p.path)}\0${p.message}`, p);
    }
  }
  return [...out.values()];
}

/**
 * The local directory that stands for `/cvmfs/<repository>`: `--root` wins (the operator's: any
 * directory), then the spec's `root` (relative to the working directory and inside it: a spec may
 * come from a pull request), then `compat-root/<repository>` in the working directory.
 */
export function repositoryRoot(spec: LayerSpec, rootOption?: string, cwd: string = process.cwd()): string {
  if (rootOption) return resolvePath(cwd, rootOption);
  const base = resolvePath(cwd);
  if (spec.root)
    return joinInside(
      base,
      spec.root,
      "root",
      "a directory relative to the working directory (or --root DIR)",
    );
  return joinInside(base, `compat-root/${spec.repository}`, "repository");
}

/** Where a resolved layer's prefix lives inside a local repository root (proven to be below it). */
export function localPrefix(layer: ResolvedLayer, root: string): string {
  return joinInside(root, layer.prefixInRepository, "prefix", "a prefix below /cvmfs/<repository>/");
}
