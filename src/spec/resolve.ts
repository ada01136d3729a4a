/**
 * Per-architecture resolution of a layer spec: the real prefix path, where it lives in the local
 * repository root, the package atoms after the platform filters, and the host links in their
 * plain and variant forms. Pure: values in, values out.
 */
import { isAbsolute, join, relative, resolve as resolvePath } from "node:path";
import { InputError } from "../errors.js";
import { type Arch, archHint, type GentooPackage, type LayerSpec } from "./schema.js";

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

export interface ResolvedLayer {
  spec: LayerSpec;
  arch: Arch;
  os: string;
  repository: string;
  stack: string;
  version: string;
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

/** Expand `{name}` placeholders; an unknown one is an input error naming the field. */
export function expandPlaceholders(template: string, vars: Placeholders, field: string): string {
  return template.replace(PLACEHOLDER_RE, (whole, name: string) => {
    const v = vars[name];
    if (v === undefined)
      throw new InputError(`${field}: unknown placeholder ${whole}`, {
        hint: `placeholders are ${Object.keys(vars)
          .map((k) => `{${k}}`)
          .join(" ")}`,
      });
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
  return { ...base, prefix: expandPlaceholders(spec.prefix, base, "prefix") };
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

/** `=cat/pkg-ver::overlay`, `cat/pkg::overlay` or `cat/pkg`, as EESSI's install_packages.yml builds them. */
export function packageAtom(p: GentooPackage): string {
  const base = p.version ? `=${p.name}-${p.version}` : p.name;
  return p.overlay ? `${base}::${p.overlay}` : base;
}

/** EESSI's include_on / exclude_on rule for one `os-arch` pair. */
export function packageApplies(p: GentooPackage, osArch: string): boolean {
  if (p.includeOn && !p.includeOn.includes(osArch)) return false;
  if (p.excludeOn?.includes(osArch)) return false;
  return true;
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

export function resolveHostLinks(
  spec: LayerSpec,
  vars: Placeholders,
): { links: HostLink[]; variablePrefix: string } {
  const v = spec.variantSymlinks;
  const defaultsDir = expandPlaceholders(v.defaultsDir, vars, "variantSymlinks.defaultsDir").replace(
    /\/+$/,
    "",
  );
  const variablePrefix = v.variablePrefix
    ? expandPlaceholders(v.variablePrefix, vars, "variantSymlinks.variablePrefix")
    : `${spec.stack.toUpperCase().replace(/[^A-Z0-9]/g, "_")}_${vars.versionTag}`;
  const prefix = vars.prefix!;
  const problems: string[] = [];

  const plainOf = (fallback: string, field: string): string | undefined => {
    if (fallback.startsWith(`${defaultsDir}/compat/`)) return fallback.slice(`${defaultsDir}/compat`.length);
    if (fallback.startsWith(`${defaultsDir}/`)) {
      const name = fallback.slice(defaultsDir.length + 1);
      const target = v.hostDefaults[name];
      if (target === undefined) {
        problems.push(
          `${field}: ${fallback} is in the repository's defaults tree but has no plain target (expected variantSymlinks.hostDefaults.${name}, e.g. /dev/null)`,
        );
        return undefined;
      }
      return target;
    }
    return fallback;
  };

  const links: HostLink[] = [];
  spec.hostSymlinks.forEach((entry, i) => {
    const field = `hostSymlinks[${i}]`;
    if (typeof entry === "string") {
      const variant = `$(${variablePrefix}_COMPAT_${variableSuffix(entry)}:-${defaultsDir}/compat${entry})`;
      links.push({
        path: entry.replace(/^\/+/, ""),
        plain: entry,
        variant,
        final: v.enabled ? variant : entry,
      });
      return;
    }
    const dest = expandPlaceholders(entry.dest, vars, `${field}.dest`);
    let path: string;
    if (isAbsolute(dest)) {
      const rel = relative(prefix, dest);
      if (rel.startsWith("..") || isAbsolute(rel) || rel === "") {
        problems.push(`${field}.dest: ${dest} is not inside the prefix ${prefix}`);
        return;
      }
      path = rel;
    } else path = dest.replace(/^\.\//, "");
    const src = expandPlaceholders(entry.src, vars, `${field}.src`);
    if (src.startsWith("$(")) {
      const parsed = parseVariant(src);
      if (!parsed) {
        problems.push(`${field}.src: ${src} is not a variant symlink (expected $(VARIABLE:-/default/path))`);
        return;
      }
      const plain = plainOf(parsed.fallback, `${field}.src`);
      if (plain === undefined) return;
      links.push({ path, plain, variant: src, final: v.enabled ? src : plain });
    } else {
      links.push({ path, plain: src, final: src });
    }
  });
  const seen = new Map<string, number>();
  links.forEach((l, i) => {
    if (seen.has(l.path))
      problems.push(`hostSymlinks: ${l.path} is linked twice (entries ${seen.get(l.path)} and ${i})`);
    seen.set(l.path, i);
  });
  if (problems.length > 0)
    throw new InputError(
      `invalid host symlinks (${problems.length} problem${problems.length === 1 ? "" : "s"})`,
      {
        details: problems,
      },
    );
  return { links, variablePrefix };
}

export function resolveLayer(spec: LayerSpec, arch: Arch): ResolvedLayer {
  const vars = placeholdersFor(spec, arch);
  const repositoryMount = `/cvmfs/${spec.repository}`;
  const prefix = vars.prefix!;
  const { links, variablePrefix } = resolveHostLinks(spec, vars);
  const osArch = `${spec.os}-${arch}`;
  const gentoo = spec.gentoo;
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
    prefixInRepository: relative(repositoryMount, prefix),
    hostLinks: links,
    variablePrefix,
    trustedDirs: (gentoo?.trustedDirs ?? []).map((d, i) =>
      expandPlaceholders(d, vars, `gentoo.trustedDirs[${i}]`),
    ),
    sets: (gentoo?.sets ?? []).map((s, i) => expandPlaceholders(s, vars, `gentoo.sets[${i}]`)),
    packageAtoms: (gentoo?.packages ?? []).filter((p) => packageApplies(p, osArch)).map(packageAtom),
  };
}

/**
 * The local directory that stands for `/cvmfs/<repository>`: `--root` wins, then the spec's `root`,
 * then `compat-root/<repository>` in the working directory.
 */
export function repositoryRoot(spec: LayerSpec, rootOption?: string, cwd: string = process.cwd()): string {
  if (rootOption) return resolvePath(cwd, rootOption);
  if (spec.root) return resolvePath(cwd, spec.root);
  return join(cwd, "compat-root", spec.repository);
}

/** Where a resolved layer's prefix lives inside a local repository root. */
export function localPrefix(layer: ResolvedLayer, root: string): string {
  return join(root, layer.prefixInRepository);
}
