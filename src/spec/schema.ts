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
import { FLAVORS, flavorChoices, SPEC_SECTIONS, sectionFields } from "../flavors/sections.js";
import { ARCHES, notAnArchMessage } from "../layer/id.js";
import { absolutePathProblem, nameProblem, type PathProblem, relativePathProblem } from "../paths/rules.js";
import { buildRootSchema } from "./build-root.js";
import { ABSOLUTE, absolutePath, pathString, suiteCoverage, templatedPath } from "./fields.js";

export {
  type DebianSettings,
  debianSuiteFor,
  debianSuiteOf,
  FLAVORS,
  type FlavorName,
  type GentooPackage,
  type GentooSettings,
  type Overlay,
  TRUSTED_DIRS_ENV_FILE,
} from "../flavors/sections.js";
export { type BuildRootSettings, buildRootSchema, DEBIAN_PACKAGE_NAME_RE } from "./build-root.js";

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

/** The part of the prefix template below `/cvmfs/{repository}/`. */
export const PREFIX_START = "/cvmfs/{repository}/";

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

const specFields = z
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
    flavor: z.enum(FLAVORS).describe(`how packages are made: ${flavorChoices()}`),
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
    ...sectionFields(),
    checks: checksSchema,
    buildRoot: buildRootSchema,
  })
  .superRefine(
    (spec, ctx) => {
      for (const s of SPEC_SECTIONS)
        if (spec.flavor === s.id && spec[s.key] === undefined)
          ctx.addIssue({
            code: "custom",
            path: [s.key],
            message: `flavor ${s.id} needs a \`${s.key}:\` section`,
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
    (spec, ctx) => suiteCoverage(spec.arches, spec.buildRoot?.suite, ["buildRoot", "suite"], ctx),
    whenParsed(["arches"], ["buildRoot", "suite"]),
  )
  .describe("a compatibility layer");

/** The spec with the checks each flavor's section makes across it (paths from the spec's top). */
function withSectionChecks(schema: typeof specFields): typeof specFields {
  let out = schema;
  for (const section of SPEC_SECTIONS)
    for (const c of section.checks)
      out = out.superRefine((spec, ctx) => c.check(spec, ctx), whenParsed(...c.when));
  return out;
}

export const layerSpecSchema = withSectionChecks(specFields);

export type LayerSpec = z.infer<typeof layerSpecSchema>;
export type HostSymlinkEntry = z.infer<typeof hostSymlinkSchema>;
export type ChecksSettings = z.infer<typeof checksSchema>;
