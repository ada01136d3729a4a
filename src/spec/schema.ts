/**
 * The layer spec: one YAML file that describes a compatibility layer completely. This schema is
 * the single source of truth; docs/spec.md is generated from the descriptions here
 * (`npm run docs:spec`) and a test keeps the two equal.
 *
 * Strings may use placeholders, expanded per architecture by resolve.ts:
 *   {repository} {stack} {version} {versionTag} (version without dots, e.g. 202606)
 *   {os} {arch} {prefix} (the resolved EPREFIX)
 */
import { z } from "zod";
import { atomLinesProblems, packageNameProblem, versionProblem } from "../gentoo/validate.js";
import { closest } from "./near.js";

export const ARCHES = ["x86_64", "aarch64", "riscv64", "ppc64le"] as const;
export type Arch = (typeof ARCHES)[number];

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
    ARCH_ALIASES[lower] ?? ARCHES.find((a) => a === lower) ?? (closest(lower, ARCHES) as Arch | undefined)
  );
}

/** `"arm64": not an architecture, did you mean "aarch64"? (expected one of …)` */
export function notAnArchMessage(name: string): string {
  const hint = archHint(name);
  return `not an architecture${hint ? `, did you mean "${hint}"?` : ""} (expected one of ${ARCHES.join(", ")})`;
}

export const FLAVORS = ["gentoo", "debian"] as const;
export type FlavorName = (typeof FLAVORS)[number];

/** `category/name` as Portage spells it (PMS 3.1.1 and 3.1.2), without version or operators. */
export const PACKAGE_NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9+_.-]*\/[A-Za-z0-9_][A-Za-z0-9+_-]*$/;

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

const absolutePath = z.string().startsWith("/", { message: "must be an absolute path" });

/** An absolute path that may start with a placeholder such as `{prefix}`. */
const templatedPath = z.string().regex(/^(\/|\{[A-Za-z]+\})/, {
  message: "must be an absolute path or start with a placeholder such as {prefix}",
});

const fileContents = z
  .string()
  .describe("file content, written as given (a trailing newline is added when missing)");

/**
 * Run a cross-field rule whenever the fields it reads parsed, whatever else is wrong: zod skips
 * refinements after any issue by default, which hid these problems until every other one was fixed.
 * An issue at, above or below one of `fields` (other than an unknown key beside it) skips the rule,
 * so the rule only ever sees those fields in their parsed form.
 */
function whenParsed(...fields: PropertyKey[][]): { when: (payload: z.core.ParsePayload) => boolean } {
  const touches = (issue: z.core.$ZodRawIssue, field: PropertyKey[]) => {
    const path = issue.path ?? [];
    const n = Math.min(path.length, field.length);
    for (let i = 0; i < n; i++) if (path[i] !== field[i]) return false;
    return true;
  };
  return {
    when: (payload) =>
      !payload.issues.some(
        (issue) => issue.code !== "unrecognized_keys" && fields.some((f) => touches(issue, f)),
      ),
  };
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

/** A size as Ansible's human_to_bytes reads it (K, M, G, T are powers of 1024): `15 GB`, `512M`. */
const sizeSchema = z
  .string()
  .regex(/^\d+(\.\d+)?\s*([KMGT]i?B?|B)?$/i, { message: "not a size (expected e.g. 15 GB)" });

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
      .record(z.string().regex(/^[\w.-]+$/, { message: "not a file name" }), fileContents)
      .default({})
      .describe("files in `etc/portage/make.conf/`, by name"),
    packageEnvFiles: z
      .record(
        z.string().regex(/^(package\.env|env\/[\w.+/-]+)$/, {
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
    bootstrap: z
      .strictObject({
        script: z
          .strictObject({
            url: z
              .string()
              .url()
              .optional()
              .describe("where to download bootstrap-prefix.sh (Gentoo's, by default)"),
            path: z.string().min(1).optional().describe("a local bootstrap-prefix.sh instead of the URL"),
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
      .array(z.string().regex(/^[\w.{}-]+$/, { message: "not a set name" }))
      .default([])
      .describe(
        "package sets to install (`@set`), before the packages; placeholders allowed, e.g. `eessi-{version}-{os}-{arch}`. A set is one of Portage's own, a `sets.conf` section, a file in `etc/portage/sets/`, or a file in an overlay's `etc/portage/sets/` that the overlays stage links there (EESSI's sets); `compat plan` shows where each is looked for",
      ),
    packages: z.array(gentooPackageSchema).default([]).describe("packages to install after the sets"),
    removePackages: z.array(packageName).default([]).describe("build-only packages removed at the end"),
    trustedDirs: z
      .array(templatedPath)
      .default([])
      .describe(
        "glibc `user-defined-trusted-dirs`, in search order; placeholders allowed, e.g. `{prefix}/lib/nvidia`",
      ),
  })
  .describe("settings of the gentoo flavor");

export const debianSchema = z
  .strictObject({
    suite: z
      .string()
      .regex(/^[a-z][a-z0-9-]*$/, { message: "not a suite name (e.g. bookworm)" })
      .describe("Debian suite"),
    mirror: z.string().url().optional().describe("Debian mirror URL; default: the host's apt sources"),
    components: z
      .array(z.string().regex(/^[a-z-]+$/))
      .default(["main"])
      .describe("archive components"),
    variant: z
      .enum([
        "extract",
        "custom",
        "essential",
        "apt",
        "required",
        "minbase",
        "buildd",
        "important",
        "standard",
      ])
      .default("minbase")
      .describe("mmdebstrap variant"),
    packages: z
      .array(z.string().regex(/^[a-z0-9][a-z0-9+.-]+$/, { message: "not a Debian package name" }))
      .default([])
      .describe("packages to install on top of the variant"),
    requiredSpace: sizeSchema
      .default("1 GB")
      .describe(
        "free space needed where the layer is built before bootstrapping (examples/dev.yaml peaks at about 360 MiB while it is built)",
      ),
  })
  .describe("settings of the debian flavor");

export const hostSymlinkSchema = z.union([
  absolutePath.describe("a host path P: the layer gets `$EPREFIX/P -> P` (or its variant form)"),
  z
    .strictObject({
      src: z.string().min(1).describe("link target: a host path, or a variant expression `$(VAR:-default)`"),
      dest: z
        .string()
        .min(1)
        .describe("the link in the layer: relative to EPREFIX, or absolute under `{prefix}`"),
    })
    .describe("an explicit link"),
]);

export const variantSymlinksSchema = z
  .strictObject({
    enabled: z
      .boolean()
      .default(true)
      .describe(
        "make the final host links CVMFS variant symlinks (`$(VAR:-default)`) instead of plain links",
      ),
    defaultsDir: z
      .string()
      .default("/cvmfs/{repository}/defaults")
      .describe("the repository's `defaults/` tree, the second level of the variant links"),
    variablePrefix: z
      .string()
      .regex(/^[A-Za-z_{][A-Za-z0-9_{}]*$/, { message: "not a variable prefix" })
      .optional()
      .describe("prefix of the variable names; default `<STACK>_<versionTag>`, e.g. `EESSI_202606`"),
    hostDefaults: z
      .record(z.string().min(1), absolutePath)
      .default({})
      .describe(
        "plain targets of entries of the defaults tree outside `compat/` (e.g. `nvidia: /dev/null`), mirroring the repository's second level; `compat/P` always maps to `/P`",
      ),
  })
  .default({ enabled: true, defaultsDir: "/cvmfs/{repository}/defaults", hostDefaults: {} })
  .describe("CVMFS variant symlinks for host integration");

export const checksSchema = z
  .strictObject({
    skip: z.array(z.string().min(1)).default([]).describe("ids of checks not to run"),
    only: z.array(z.string().min(1)).optional().describe("run only these checks"),
    requiredTools: z
      .array(z.string().min(1))
      .optional()
      .describe("tools that must come from the prefix; default depends on the flavor"),
    locale: z.string().default("en_US.utf8").describe("the UTF-8 locale `locale -a` must list"),
  })
  .default({ skip: [], locale: "en_US.utf8" })
  .describe("options of the check suite");

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

export const layerSpecSchema = z
  .strictObject({
    repository: z
      .string()
      .regex(/^[a-z0-9][a-z0-9.-]*\.[a-z0-9.-]+$/, {
        message: "not a CVMFS repository name (expected a fully qualified name, e.g. software.eessi.io)",
      })
      .describe("CVMFS repository name; the layer lives under `/cvmfs/<repository>`"),
    stack: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_-]*$/, { message: "not a stack name (lower case letters, digits, _ and -)" })
      .describe("stack name, first part of artifact names (e.g. `eessi`)"),
    version: z
      .string()
      .regex(/^[0-9][0-9A-Za-z._-]*$/, { message: "not a version (expected e.g. 2025.06)" })
      .describe("stack version (e.g. `2025.06`)"),
    os: z.enum(["linux", "macos"]).default("linux").describe("OS path component"),
    arches: z
      .array(z.enum(ARCHES, { error: (issue) => notAnArchMessage(String(issue.input)) }))
      .min(1)
      .describe("CPU families this layer is built for"),
    flavor: z
      .enum(FLAVORS)
      .describe("how packages are made: `gentoo` (Gentoo Prefix) or `debian` (relocated)"),
    prefix: z
      .string()
      .regex(/^\/cvmfs\/\{repository\}\//, { message: "must start with /cvmfs/{repository}/" })
      .default("/cvmfs/{repository}/versions/{version}/compat/{os}/{arch}")
      .describe(
        "EPREFIX template; the layer is installed at this path and runs from it (placeholders: {repository} {version} {os} {arch} …)",
      ),
    root: z
      .string()
      .min(1)
      .optional()
      .describe(
        "local directory that stands for `/cvmfs/<repository>`; default `compat-root/<repository>` in the working directory",
      ),
    locales: z
      .array(
        z
          .string()
          .regex(/^[^\s]+ [^\s]+$/, { message: "not a locale.gen line (expected e.g. en_US.UTF-8 UTF-8)" }),
      )
      .default(["en_US.UTF-8 UTF-8"])
      .describe("`locale.gen` lines the build adds and generates (e.g. `en_US.UTF-8 UTF-8`)"),
    hostSymlinks: z
      .array(hostSymlinkSchema)
      .default([])
      .describe(
        "links from the layer to host files (users, groups, DNS, time zone …); plain during the build, their final form at the end",
      ),
    variantSymlinks: variantSymlinksSchema,
    gentoo: gentooSchema.optional(),
    debian: debianSchema.optional(),
    checks: checksSchema,
  })
  .superRefine(
    (spec, ctx) => {
      if (spec.flavor === "gentoo" && spec.gentoo === undefined)
        ctx.addIssue({
          code: "custom",
          path: ["gentoo"],
          message: "flavor gentoo needs a `gentoo:` section",
        });
      if (spec.flavor === "debian" && spec.debian === undefined)
        ctx.addIssue({
          code: "custom",
          path: ["debian"],
          message: "flavor debian needs a `debian:` section",
        });
    },
    whenParsed(["flavor"]),
  )
  .superRefine(
    (spec, ctx) => {
      const seen = new Set<string>();
      spec.arches.forEach((a, i) => {
        if (seen.has(a))
          ctx.addIssue({ code: "custom", path: ["arches", i], message: `${a} is listed twice` });
        seen.add(a);
      });
    },
    whenParsed(["arches"]),
  )
  .superRefine(
    (spec, ctx) => {
      const overlayNames = new Set<string>(["gentoo"]);
      spec.gentoo?.overlays.forEach((o, i) => {
        if (overlayNames.has(o.name))
          ctx.addIssue({
            code: "custom",
            path: ["gentoo", "overlays", i, "name"],
            message:
              o.name === "gentoo"
                ? "is the main repository's name (set it up in gentoo.repository), not an overlay's"
                : "this overlay is listed twice",
          });
        overlayNames.add(o.name);
      });
    },
    whenParsed(["gentoo", "overlays"]),
  )
  .superRefine(
    (spec, ctx) => {
      if (!spec.gentoo || !Array.isArray(spec.gentoo.overlays)) return;
      const writers = portageEntryWriters(spec.gentoo);
      const linkedBy = new Map<string, string>();
      spec.gentoo.overlays.forEach((item, i) => {
        // an overlay with its own problems is left out; the others are still checked
        const parsed = overlaySchema.safeParse(item);
        if (!parsed.success) return;
        const o = parsed.data;
        o.portageConfig.forEach((entry, j) => {
          const path = ["gentoo", "overlays", i, "portageConfig", j];
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
    whenParsed(
      ...[
        "packageMask",
        "packageUnmask",
        "packageUse",
        "packageAcceptKeywords",
        "profilePackageUseMask",
        "packageEnvFiles",
        "trustedDirs",
      ].map((f) => ["gentoo", f]),
    ),
  )
  .superRefine(
    (spec, ctx) => {
      if (
        spec.gentoo &&
        spec.gentoo.trustedDirs.length > 0 &&
        TRUSTED_DIRS_ENV_KEY in spec.gentoo.packageEnvFiles
      )
        ctx.addIssue({
          code: "custom",
          path: ["gentoo", "packageEnvFiles", TRUSTED_DIRS_ENV_KEY],
          message: "this file is written from gentoo.trustedDirs; set the trusted dirs there",
        });
    },
    whenParsed(["gentoo", "trustedDirs"], ["gentoo", "packageEnvFiles"]),
  )
  .describe("a compatibility layer");

export type LayerSpec = z.infer<typeof layerSpecSchema>;
export type GentooSettings = z.infer<typeof gentooSchema>;
export type GentooPackage = z.infer<typeof gentooPackageSchema>;
export type Overlay = z.infer<typeof overlaySchema>;
export type DebianSettings = z.infer<typeof debianSchema>;
export type HostSymlinkEntry = z.infer<typeof hostSymlinkSchema>;
export type ChecksSettings = z.infer<typeof checksSchema>;
