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
import { whenParsed } from "../config/yaml.js";
import { InputError } from "../errors.js";
import { atomLinesProblems, packageNameProblem, versionProblem } from "../gentoo/validate.js";
import { ARCHES, type Arch, isArch, notAnArchMessage } from "../layer/id.js";
import { absolutePathProblem, nameProblem, type PathProblem, relativePathProblem } from "../paths/rules.js";

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

/**
 * A string that becomes a path (or part of one): refused when `check` finds a problem, saying what
 * would be right. The checks are src/paths/rules.ts's, the ones the code that writes runs again.
 */
function pathString(
  check: (v: string) => PathProblem | undefined,
  expected: string,
  pattern?: { re: RegExp; message: string },
) {
  // a value that does not match the pattern gets that one message (and editors get the pattern)
  const base = pattern ? z.string().regex(pattern.re, { message: pattern.message, abort: true }) : z.string();
  return base.superRefine((v, ctx) => {
    const p = check(v);
    if (p) ctx.addIssue({ code: "custom", message: `${p.message} (expected ${expected})` });
  });
}

/** A host path, e.g. a link target's fallback: absolute, no `..`, not `/` itself. */
const ABSOLUTE = { re: /^\//, message: "must be an absolute path" };
const absolutePath = pathString(
  (v) => absolutePathProblem(v),
  "an absolute path such as /etc/hosts",
  ABSOLUTE,
);

/** Placeholders, a `{prefix}` included, expand to values without `..` (checked again after expanding). */
const templatedPath = pathString(
  (v) => absolutePathProblem(v.replace(/^\{[A-Za-z]+\}/, "/x")),
  "an absolute path, or one that starts with a placeholder such as {prefix}",
  {
    re: /^(\/|\{[A-Za-z]+\})/,
    message: "must be an absolute path or start with a placeholder such as {prefix}",
  },
);

/**
 * Where a host link goes in the layer: relative to EPREFIX (`etc/hosts`), or absolute under
 * `{prefix}` (`{prefix}/etc/hosts`); an absolute path without the placeholder must be under the
 * resolved prefix, which resolve.ts checks.
 */
export function linkDestProblem(v: string): PathProblem | undefined {
  if (v.startsWith("{prefix}")) {
    const rest = v.slice("{prefix}".length);
    if (rest !== "" && !rest.startsWith("/"))
      return {
        rule: "not-normalised",
        message: 'has text right after {prefix} (expected "{prefix}/" and a path)',
      };
    return relativePathProblem(rest.replace(/^\/+/, ""));
  }
  return v.startsWith("/") ? absolutePathProblem(v) : relativePathProblem(v);
}

/** A `gentoo.packageEnvFiles` key: `package.env`, or a file below `env/` (`env/sys-libs/glibc`). */
export function packageEnvKeyProblem(v: string): PathProblem | undefined {
  if (v === "package.env") return undefined;
  if (!v.startsWith("env/"))
    return { rule: "not-normalised", message: "is neither package.env nor below env/" };
  return relativePathProblem(v.slice("env/".length), { normalised: true });
}

/** The part of the prefix template below `/cvmfs/{repository}/`. */
export const PREFIX_START = "/cvmfs/{repository}/";

const fileContents = z
  .string()
  .describe("file content, written as given (a trailing newline is added when missing)");

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

/** SOURCE_DATE_EPOCH of the build (src/layer/source-date-epoch.ts); the environment variable wins. */
const sourceDateEpochSchema = z
  .number()
  .int({ message: "not a unix time in whole seconds" })
  .min(0, { message: "a unix time is not negative" })
  .max(253_402_300_799, { message: "beyond the year 9999" })
  .optional()
  .describe(
    "SOURCE_DATE_EPOCH of the build (unix seconds, not later than the build): the time every file and record of the layer gets; default: derived from the inputs, the environment variable SOURCE_DATE_EPOCH wins",
  );

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

const debianSuiteName = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,63}$/, { message: "not a suite name (e.g. bookworm)" });

export const debianSchema = z
  .strictObject({
    suite: z
      .union([
        debianSuiteName,
        z.record(z.string(), debianSuiteName).superRefine((bySuite, ctx) => {
          for (const arch of Object.keys(bySuite))
            if (!isArch(arch))
              ctx.addIssue({
                code: "custom",
                path: [],
                message: `${JSON.stringify(arch)}: ${notAnArchMessage(arch)}`,
              });
        }),
      ])
      .describe(
        "Debian suite (e.g. `bookworm`), or one per arch (e.g. `{x86_64: bookworm, aarch64: bookworm, riscv64: trixie}`: riscv64 is an official port from trixie on); every arch of `arches` needs one",
      ),
    mirror: withoutCredentials(z.string())
      .url()
      .optional()
      .describe(
        "Debian mirror URL, without credentials (apt's auth.conf.d has them); default: the host's apt sources",
      ),
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
    sourceDateEpoch: sourceDateEpochSchema,
    requiredSpace: sizeSchema
      .default("1 GB")
      .describe(
        "free space needed where the layer is built before bootstrapping (examples/dev.yaml peaks at about 360 MiB while it is built)",
      ),
  })
  .describe("settings of the debian flavor");

export const hostSymlinkSchema = z.union([
  pathString(
    (v) => absolutePathProblem(v, { normalised: true }),
    "an absolute host path below /, such as /etc/passwd, without `..`, `.` or doubled slashes",
    ABSOLUTE,
  ).describe(
    "a host path P: the layer gets `$EPREFIX/P -> P` (or its variant form); absolute and normalised, without `..`",
  ),
  z
    .strictObject({
      src: z
        .string()
        .min(1)
        .refine((v) => !v.includes("\0"), { message: "contains a NUL byte" })
        .describe("link target: a host path, or a variant expression `$(VAR:-default)`"),
      dest: pathString(
        linkDestProblem,
        "a path below EPREFIX, e.g. etc/hosts or {prefix}/etc/hosts",
      ).describe(
        "the link in the layer: relative to EPREFIX, or absolute under `{prefix}`; without `..`, and not EPREFIX itself",
      ),
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
    defaultsDir: templatedPath
      .default("/cvmfs/{repository}/defaults")
      .describe("the repository's `defaults/` tree, the second level of the variant links"),
    variablePrefix: z
      .string()
      .regex(/^[A-Za-z_{][A-Za-z0-9_{}]*$/, { message: "not a variable prefix" })
      .optional()
      .describe("prefix of the variable names; default `<STACK>_<versionTag>`, e.g. `EESSI_202606`"),
    hostDefaults: z
      .record(
        pathString(
          (v) => relativePathProblem(v, { normalised: true }),
          "an entry of the defaults tree, e.g. nvidia",
        ),
        absolutePath,
      )
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
      .array(pathString(nameProblem, "a program name such as bash"))
      .optional()
      .describe("tools that must come from the prefix; default depends on the flavor"),
    locale: z.string().default("en_US.utf8").describe("the UTF-8 locale `locale -a` must list"),
  })
  .default({ skip: [], locale: "en_US.utf8" })
  .describe("options of the check suite");

/** A Debian suite, or one per arch (`{x86_64: bookworm, riscv64: trixie}`). */
const suitePerArch = z.union([
  debianSuiteName,
  z.record(z.string(), debianSuiteName).superRefine((bySuite, ctx) => {
    for (const arch of Object.keys(bySuite))
      if (!isArch(arch))
        ctx.addIssue({
          code: "custom",
          path: [],
          message: `${JSON.stringify(arch)}: ${notAnArchMessage(arch)}`,
        });
  }),
]);

/** A Debian binary package name (Debian Policy §5.6.1): lower case, digits, + - ., two or more characters. */
export const DEBIAN_PACKAGE_NAME_RE = /^[a-z0-9][a-z0-9+.-]+$/;

/**
 * A mirror URL carries no credentials: a spec is public (it comes from a pull request), and the URL
 * is printed in errors and logs and stored in build records and the build-root cache.
 */
function withoutCredentials<T extends z.ZodString>(url: T) {
  return url.refine((u) => !/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i.test(u), {
    message:
      "has credentials in it (user:password@host): a spec is public and the URL is printed and stored; write the URL without them and give them to apt on the build host (/etc/apt/auth.conf.d/)",
    abort: true,
    params: { echo: false }, // the value is the password: never repeated in the problem
  });
}

/**
 * The build root's mirror as apt takes it in a deb822 URIs field: http or https, without blanks or
 * credentials. Not file://: a spec comes from a pull request, and a file:// mirror would make the
 * build host read (and name in errors) paths of the pull request's choosing; a build root made from
 * a local mirror takes it from the host's apt sources (buildRoot.mirror left out).
 */
const mirrorUrl = withoutCredentials(z.string())
  .regex(/^https?:\/\/[^\s]+$/, {
    message:
      "not a mirror URL (expected http:// or https:// and no blanks; for a local mirror leave buildRoot.mirror out and name it in the build host's apt sources)",
    abort: true,
  })
  .url();

export const buildRootSchema = z
  .strictObject({
    suite: suitePerArch
      .optional()
      .describe(
        "Debian suite of the build root, or one per arch (e.g. `{x86_64: bookworm, riscv64: trixie}`); default: the flavor's (bookworm, trixie for riscv64)",
      ),
    mirror: mirrorUrl
      .optional()
      .describe(
        "Debian mirror the build root is made from, http:// or https:// without credentials (a local mirror: leave it out and name it in the build host's apt sources); default: the host's apt sources",
      ),
    packages: z
      .array(
        z.string().max(100, { message: "longer than 100 characters" }).regex(DEBIAN_PACKAGE_NAME_RE, {
          message: "not a Debian package name (lower case letters, digits, +, - and ., e.g. g++)",
        }),
      )
      .max(1000, { message: "more than 1000 packages" })
      .superRefine((names, ctx) => {
        const seen = new Set<string>();
        names.forEach((n, i) => {
          if (seen.has(n)) ctx.addIssue({ code: "custom", path: [i], message: `${n} is listed twice` });
          seen.add(n);
        });
      })
      .optional()
      .describe(
        "packages installed on top of mmdebstrap's minbase variant (replace the flavor's list, e.g. gcc, g++, make for the gentoo bootstrap); default: the flavor's",
      ),
  })
  .optional()
  .describe(
    "the build root: a Debian tree compat makes with mmdebstrap, caches under its state dir by the sha256 of its package list, and builds in (`compat buildroot`); each field defaults to the flavor's",
  );

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

/** A suite named per arch names one for each of the spec's arches, and none for another. */
function suiteCoverage(
  arches: readonly Arch[],
  suite: string | Record<string, string> | undefined,
  path: string[],
  ctx: z.RefinementCtx,
): void {
  if (suite === undefined || typeof suite === "string") return;
  for (const arch of arches)
    if (!Object.hasOwn(suite, arch))
      ctx.addIssue({
        code: "custom",
        path,
        message: `no suite for ${arch} (the spec's arches are ${arches.join(", ")}; add e.g. \`${arch}: bookworm\`)`,
      });
  for (const arch of Object.keys(suite))
    if (isArch(arch) && !arches.includes(arch))
      ctx.addIssue({
        code: "custom",
        path,
        message: `${arch} is not one of the spec's arches (${arches.join(", ")}): add it to \`arches\` or remove this line`,
      });
}

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
    prefix: pathString(
      (v) => relativePathProblem(v.slice(PREFIX_START.length), { normalised: true }),
      `a path below ${PREFIX_START} without \`..\`, e.g. ${PREFIX_START}versions/{version}/compat/{os}/{arch}`,
      { re: /^\/cvmfs\/\{repository\}\//, message: `must start with ${PREFIX_START}` },
    )
      .default("/cvmfs/{repository}/versions/{version}/compat/{os}/{arch}")
      .describe(
        "EPREFIX template; the layer is installed at this path and runs from it (placeholders: {repository} {version} {os} {arch} …); below `/cvmfs/{repository}/`, normalised, without `..`",
      ),
    root: pathString(
      (v) => relativePathProblem(v),
      "a directory relative to the working directory and inside it, e.g. compat-root (give a directory elsewhere with --root)",
    )
      .optional()
      .describe(
        "local directory that stands for `/cvmfs/<repository>`, relative to the working directory and inside it (a directory elsewhere is given with `--root`); default `compat-root/<repository>`",
      ),
    locales: z
      .array(
        pathString(
          (v) => v.split(" ").map(nameProblem).find(Boolean),
          "a locale.gen line such as en_US.UTF-8 UTF-8",
          { re: /^[^\s]+ [^\s]+$/, message: "not a locale.gen line (expected e.g. en_US.UTF-8 UTF-8)" },
        ),
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
    buildRoot: buildRootSchema,
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
      const suite = spec.debian?.suite;
      if (suite === undefined || typeof suite === "string") return;
      for (const arch of spec.arches)
        if (!Object.hasOwn(suite, arch))
          ctx.addIssue({
            code: "custom",
            path: ["debian", "suite"],
            message: `no suite for ${arch} (the spec's arches are ${spec.arches.join(", ")}; add e.g. \`${arch}: bookworm\`)`,
          });
      for (const arch of Object.keys(suite))
        if (isArch(arch) && !spec.arches.includes(arch))
          ctx.addIssue({
            code: "custom",
            path: ["debian", "suite"],
            message: `${arch} is not one of the spec's arches (${spec.arches.join(", ")}): add it to \`arches\` or remove this line`,
          });
    },
    whenParsed(["arches"], ["debian", "suite"]),
  )
  .superRefine(
    (spec, ctx) => suiteCoverage(spec.arches, spec.buildRoot?.suite, ["buildRoot", "suite"], ctx),
    whenParsed(["arches"], ["buildRoot", "suite"]),
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
export type BuildRootSettings = NonNullable<z.infer<typeof buildRootSchema>>;

/** The Debian suite a layer of `arch` is built from (`debian.suite`, a name or one per arch). */
export function debianSuiteOf(settings: Pick<DebianSettings, "suite">, arch: string): string | undefined {
  const { suite } = settings;
  if (typeof suite === "string") return suite;
  return Object.hasOwn(suite, arch) ? suite[arch] : undefined;
}

/** debianSuiteOf for a build: the spec's check makes every arch of `arches` name a suite. */
export function debianSuiteFor(settings: Pick<DebianSettings, "suite">, arch: Arch): string {
  const suite = debianSuiteOf(settings, arch);
  if (suite === undefined)
    throw new InputError(`debian.suite names no suite for ${arch}`, {
      hint: `add \`${arch}: <suite>\` to debian.suite`,
    });
  return suite;
}
