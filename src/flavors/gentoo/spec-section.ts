/**
 * The `gentoo:` section of the layer spec: its schema (docs/spec.md is generated from the
 * descriptions here, through src/spec/schema.ts, which assembles the sections of every flavor) and
 * the checks across the spec that need more than the section (paths from the spec's top).
 */
import { z } from "zod";
import { whenParsed } from "../../config/yaml.js";
import { GENTOO_REPOSITORY } from "../../gentoo/portage-names.js";
import { atomLinesProblems, packageNameProblem, versionProblem } from "../../gentoo/validate.js";
import {
  absolutePathProblem,
  nameProblem,
  type PathProblem,
  relativePathProblem,
} from "../../paths/rules.js";
import {
  fileContents,
  pathString,
  sizeSchema,
  sourceDateEpochSchema,
  templatedPath,
} from "../../spec/fields.js";
import type { FlavorSpecSection, SectionResolution, SectionResolveContext, SpecCheck } from "../section.js";

/** The flavor's id, and its section's key in the spec. */
const KEY = "gentoo";
/** Portage's main repository (`repos.conf/gentoo.conf`), whose name no overlay may take. */
const MAIN_REPOSITORY = GENTOO_REPOSITORY;

/** `category/name` as Portage spells it (PMS 3.1.1 and 3.1.2), without version or operators. */
const PACKAGE_NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9+_.-]*\/[A-Za-z0-9_][A-Za-z0-9+_-]*$/;

const packageName = z
  .string()
  .regex(PACKAGE_NAME_RE, { message: "not a package name (expected category/name, e.g. sys-apps/archspec)" })
  .superRefine((name, ctx) => {
    // Portage's own rules on top of the character set (e.g. a name must not end in a version)
    const problem = PACKAGE_NAME_RE.test(name) ? packageNameProblem(name) : undefined;
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  });

const osArch = z
  .string()
  .regex(/^[a-z]+-[a-z0-9_]+$/, { message: "not an os-arch pair (expected e.g. linux-x86_64)" });

/** A `gentoo.packageEnvFiles` key: `package.env`, or a file below `env/` (`env/sys-libs/glibc`). */
export function packageEnvKeyProblem(v: string): PathProblem | undefined {
  if (v === "package.env") return undefined;
  if (!v.startsWith("env/"))
    return { rule: "not-normalised", message: "is neither package.env nor below env/" };
  return relativePathProblem(v.slice("env/".length), { normalised: true });
}

/** A Portage config file whose entries start with an atom (package.use, package.mask …). */
const atomLines = fileContents.superRefine((text, ctx) => {
  for (const p of atomLinesProblems(text))
    ctx.addIssue({ code: "custom", message: `line ${p.line} of the text: ${p.message}` });
});

export const gentooPackageSchema = z
  .strictObject({
    name: packageName.describe("category/name of the package"),
    version: z
      .string()
      .min(1)
      .optional()
      .describe("exact version; the atom becomes `=category/name-version`"),
    overlay: z.string().min(1).optional().describe("repository the package must come from (`::overlay`)"),
    includeOn: z
      .array(osArch)
      .optional()
      .describe("install only on these `os-arch` pairs (EESSI's include_on)"),
    excludeOn: z
      .array(osArch)
      .optional()
      .describe("never install on these `os-arch` pairs (EESSI's exclude_on)"),
  })
  .superRefine(
    (pkg, ctx) => {
      const problem = pkg.version === undefined ? undefined : versionProblem(pkg.name, pkg.version);
      if (problem) ctx.addIssue({ code: "custom", path: ["version"], message: problem });
    },
    whenParsed(["name"], ["version"]),
  )
  .describe("a package to install, with optional pin and platform filters");

export const overlaySchema = z.strictObject({
  name: z
    .string()
    .regex(/^[A-Za-z0-9_][A-Za-z0-9_-]*$/, { message: "not a repository name (letters, digits, _ and -)" })
    .describe("repository name (`profiles/repo_name` of the overlay)"),
  url: z.string().min(1).describe("sync URI"),
  syncType: z
    .enum(["git", "rsync", "svn", "mercurial", "webrsync"])
    .default("git")
    .describe("Portage sync-type"),
  branch: z.string().min(1).optional().describe("branch to clone (`sync-git-clone-extra-opts = --branch`)"),
  commit: z
    .string()
    .regex(/^[0-9a-f]{7,40}$/, { message: "not a git commit id (expected 7 to 40 hex digits)" })
    .optional()
    .describe("pinned commit; without it the overlay follows its branch and the build is not reproducible"),
  eclassOverrides: z.boolean().default(false).describe("list this overlay in `eclass-overrides`"),
  portageConfig: z
    .array(
      z.string().regex(/^[A-Za-z0-9_][\w.+-]*$/, {
        message: "not an entry name (expected a file or directory name such as package.accept_keywords)",
      }),
    )
    .default([])
    .describe(
      "entries of the overlay's own `etc/portage/` (files or directories, e.g. `package.accept_keywords`, `env`) that the overlays stage links into `$EPREFIX/etc/portage/`, as EESSI's role did with every entry there before 2026.06 (add_overlay.yml until commit 11fe497); an entry the spec also writes is an error; `compat plan` lists the links (portageLinks)",
    ),
  autoSync: z
    .boolean()
    .optional()
    .describe(
      "Portage auto-sync; default `no` for git overlays (pinned) and `yes` otherwise; when set it is written `True`/`False`, as EESSI's role writes it (Portage lower-cases the value)",
    ),
});

export const gentooSchema = z
  .strictObject({
    repository: z
      .strictObject({
        url: z.string().min(1).default("https://github.com/gentoo/gentoo.git").describe("gentoo.git URL"),
        branch: z
          .string()
          .min(1)
          .default("master")
          .describe("branch cloned before the pinned commit is fetched"),
        commit: z
          .string()
          .regex(/^[0-9a-f]{40}$/, { message: "not a full git commit id (expected 40 hex digits)" })
          .describe("pinned commit of the Gentoo tree; recorded in the build record"),
      })
      .describe(
        "the Gentoo ebuild repository, pinned to one commit (`repos.conf/gentoo.conf`, auto-sync = no)",
      ),
    overlays: z
      .array(overlaySchema)
      .default([])
      .describe("extra ebuild repositories, one `repos.conf` file each"),
    makeConf: z
      .record(
        pathString(nameProblem, "a file name such as 01-use", {
          re: /^[\w.-]+$/,
          message: "not a file name",
        }),
        fileContents,
      )
      .default({})
      .describe("files in `etc/portage/make.conf/`, by name"),
    packageEnvFiles: z
      .record(
        pathString(packageEnvKeyProblem, "`package.env` or a path below `env/`, e.g. env/sys-libs/glibc", {
          re: /^(package\.env|env\/[\w.+/-]+)$/,
          message: "expected `package.env` or a path under `env/`",
        }),
        fileContents,
      )
      .superRefine(
        (files, ctx) => {
          for (const p of atomLinesProblems(files["package.env"] ?? ""))
            ctx.addIssue({
              code: "custom",
              path: ["package.env"],
              message: `line ${p.line} of the text: ${p.message}`,
            });
        },
        whenParsed(["package.env"]),
      )
      .default({})
      .describe(
        "`etc/portage/package.env` and files under `etc/portage/env/` (per-package bashrc hooks such as `env/sys-libs/glibc`)",
      ),
    packageUse: atomLines
      .optional()
      .describe("`etc/portage/package.use` (EESSI's prefix_bootstrap_use_flags)"),
    packageMask: atomLines.optional().describe("`etc/portage/package.mask`"),
    packageUnmask: atomLines.optional().describe("`etc/portage/package.unmask`"),
    packageAcceptKeywords: atomLines.optional().describe("`etc/portage/package.accept_keywords`"),
    profilePackageUseMask: atomLines.optional().describe("`etc/portage/profile/package.use.mask`"),
    sourceDateEpoch: sourceDateEpochSchema,
    bootstrap: z
      .strictObject({
        script: z
          .strictObject({
            url: z
              .string()
              .url()
              .optional()
              .describe("where to download bootstrap-prefix.sh (Gentoo's, by default)"),
            path: pathString(
              (v) => relativePathProblem(v),
              "a path relative to the spec's directory and inside it, e.g. bootstrap-prefix.sh beside the spec (or a url with a sha256)",
            )
              .optional()
              .describe(
                "a local bootstrap-prefix.sh instead of the URL, relative to the spec's directory and inside it",
              ),
            sha256: z
              .string()
              .regex(/^[0-9a-f]{64}$/, { message: "not a sha256 (expected 64 hex digits)" })
              .optional()
              .describe("required checksum of the script; a mismatch stops the build"),
          })
          .default({
            url: "https://gitweb.gentoo.org/repo/proj/prefix.git/plain/scripts/bootstrap-prefix.sh",
          })
          .describe("the Gentoo Prefix bootstrap script"),
        useFlags: z
          .array(z.string().regex(/^-?[A-Za-z0-9][A-Za-z0-9+_@-]*$/, { message: "not a USE flag" }))
          .default([])
          .describe("global USE flags for the bootstrap (MAKE_CONF_ADDITIONAL_USE)"),
        requiredSpace: sizeSchema
          .default("15 GB")
          .describe("free space needed at the prefix before bootstrapping"),
      })
      .default({
        script: { url: "https://gitweb.gentoo.org/repo/proj/prefix.git/plain/scripts/bootstrap-prefix.sh" },
        useFlags: [],
        requiredSpace: "15 GB",
      })
      .describe("Gentoo Prefix bootstrap settings"),
    sets: z
      .array(
        pathString(nameProblem, "a set name such as eessi-{version}-{os}-{arch}", {
          re: /^[\w.{}-]+$/,
          message: "not a set name",
        }),
      )
      .default([])
      .describe(
        "package sets to install (`@set`), before the packages; placeholders allowed, e.g. `eessi-{version}-{os}-{arch}`. A set is one of Portage's own, a `sets.conf` section, a file in `etc/portage/sets/`, or a file in an overlay's `etc/portage/sets/` that the overlays stage links there (EESSI's sets); `compat plan` shows where each is looked for",
      ),
    packages: z.array(gentooPackageSchema).default([]).describe("packages to install after the sets"),
    removePackages: z.array(packageName).default([]).describe("build-only packages removed at the end"),
    trustedDirs: z
      .array(
        templatedPath.superRefine((v, ctx) => {
          // the list is written into a quoted shell variable, separated by ":"
          if (/[\s"'`$\\:]/.test(v))
            ctx.addIssue({
              code: "custom",
              message: "contains a blank, a quote, $, \\ or : (expected a directory path without them)",
            });
        }),
      )
      .default([])
      .describe(
        "glibc `user-defined-trusted-dirs`, in search order; placeholders allowed, e.g. `{prefix}/lib/nvidia`",
      ),
  })
  .describe("settings of the gentoo flavor");

/**
 * The top-level entries of `$EPREFIX/etc/portage/` that the build writes itself, each with the spec
 * field it comes from: an overlay cannot link these (gentoo.overlays[].portageConfig).
 */
export function portageEntryWriters(gentoo: GentooSettings): Map<string, string> {
  const writers = new Map<string, string>([
    ["repos.conf", "gentoo.repository and gentoo.overlays, always"],
    ["make.conf", "the bootstrap and gentoo.makeConf, always"],
  ]);
  const add = (entry: string, field: string, written: boolean) => {
    if (written && !writers.has(entry)) writers.set(entry, field);
  };
  const set = (v: string | undefined) => v !== undefined && v !== "";
  add("package.mask", "gentoo.packageMask", set(gentoo.packageMask));
  add("package.unmask", "gentoo.packageUnmask", set(gentoo.packageUnmask));
  add("package.use", "gentoo.packageUse", set(gentoo.packageUse));
  add("package.accept_keywords", "gentoo.packageAcceptKeywords", set(gentoo.packageAcceptKeywords));
  add("profile", "gentoo.profilePackageUseMask", set(gentoo.profilePackageUseMask));
  for (const [key, content] of Object.entries(gentoo.packageEnvFiles))
    add(key.split("/")[0]!, `gentoo.packageEnvFiles.${key}`, set(content));
  add("env", "gentoo.trustedDirs", gentoo.trustedDirs.length > 0);
  add("package.env", "gentoo.trustedDirs", gentoo.trustedDirs.length > 0);
  return writers;
}

/** The `etc/portage/env/` file the build writes from `gentoo.trustedDirs` (as EESSI's role does). */
export const TRUSTED_DIRS_ENV_FILE = "glibc-user-defined-trusted-dirs.conf";
const TRUSTED_DIRS_ENV_KEY = `env/${TRUSTED_DIRS_ENV_FILE}`;

export type GentooSettings = z.infer<typeof gentooSchema>;
export type GentooPackage = z.infer<typeof gentooPackageSchema>;
export type Overlay = z.infer<typeof overlaySchema>;

type GentooSpec = { gentoo?: GentooSettings };

/** An overlay is none of the main repository's name and is listed once. */
const overlayNamesCheck: SpecCheck<GentooSpec> = {
  check(spec, ctx) {
    const overlayNames = new Set<string>([MAIN_REPOSITORY]);
    spec.gentoo?.overlays.forEach((o, i) => {
      if (overlayNames.has(o.name))
        ctx.addIssue({
          code: "custom",
          path: [KEY, "overlays", i, "name"],
          message:
            o.name === MAIN_REPOSITORY
              ? "is the main repository's name (set it up in gentoo.repository), not an overlay's"
              : "this overlay is listed twice",
        });
      overlayNames.add(o.name);
    });
  },
  when: [[KEY, "overlays"]],
};

/** Overlays link no entry of etc/portage/ that the spec writes, and no entry twice. */
const portageConfigCheck: SpecCheck<GentooSpec> = {
  check(spec, ctx) {
    if (!spec.gentoo || !Array.isArray(spec.gentoo.overlays)) return;
    const writers = portageEntryWriters(spec.gentoo);
    const linkedBy = new Map<string, string>();
    spec.gentoo.overlays.forEach((item, i) => {
      // an overlay with its own problems is left out; the others are still checked
      const parsed = overlaySchema.safeParse(item);
      if (!parsed.success) return;
      const o = parsed.data;
      o.portageConfig.forEach((entry, j) => {
        const path = [KEY, "overlays", i, "portageConfig", j];
        const writer = writers.get(entry);
        const other = linkedBy.get(entry);
        if (writer)
          ctx.addIssue({
            code: "custom",
            path,
            message: `the spec writes etc/portage/${entry} (from ${writer}); link it from the overlay or write it from the spec, not both`,
          });
        else if (other)
          ctx.addIssue({
            code: "custom",
            path,
            message: `already linked into etc/portage/ from overlay ${other}`,
          });
        linkedBy.set(entry, o.name);
      });
    });
  },
  when: [
    "packageMask",
    "packageUnmask",
    "packageUse",
    "packageAcceptKeywords",
    "profilePackageUseMask",
    "packageEnvFiles",
    "trustedDirs",
  ].map((f) => [KEY, f]),
};

/** The trusted dirs' env file is written from gentoo.trustedDirs, not given as a file as well. */
const trustedDirsEnvCheck: SpecCheck<GentooSpec> = {
  check(spec, ctx) {
    if (
      spec.gentoo &&
      spec.gentoo.trustedDirs.length > 0 &&
      TRUSTED_DIRS_ENV_KEY in spec.gentoo.packageEnvFiles
    )
      ctx.addIssue({
        code: "custom",
        path: [KEY, "packageEnvFiles", TRUSTED_DIRS_ENV_KEY],
        message: "this file is written from gentoo.trustedDirs; set the trusted dirs there",
      });
  },
  when: [
    [KEY, "trustedDirs"],
    [KEY, "packageEnvFiles"],
  ],
};

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

/** gentoo.trustedDirs and gentoo.sets with their placeholders expanded, and the packages for the arch. */
function resolve(gentoo: GentooSettings, ctx: SectionResolveContext): SectionResolution {
  return {
    trustedDirs: ctx.expand(gentoo.trustedDirs ?? [], "trustedDirs", absolutePathProblem, "an absolute path"),
    sets: ctx.expand(gentoo.sets ?? [], "sets", nameProblem, "a set name (a file name in etc/portage/sets/)"),
    packageAtoms: (gentoo.packages ?? []).filter((p) => packageApplies(p, ctx.osArch)).map(packageAtom),
  };
}

export const specSection = {
  id: KEY,
  key: KEY,
  summary: "Gentoo Prefix",
  schema: gentooSchema,
  checks: [overlayNamesCheck, portageConfigCheck, trustedDirsEnvCheck],
  resolve,
} satisfies FlavorSpecSection<typeof KEY, typeof KEY, typeof gentooSchema, GentooSpec>;
