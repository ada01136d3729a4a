/**
 * `compat import-ansible`: EESSI's compatibility_layer role defaults plus one vars file → a layer
 * spec. Pure: texts in, spec text and warnings out. Variables merge as Ansible merges them (a
 * variable in the vars file replaces the default whole); Jinja is resolved by ./jinja.ts into
 * values or spec placeholders. The reference's defects (reference/compat-layer.md §9) are not
 * carried over: file names come from the schema, the variant→plain conversion knows every entry
 * of the defaults tree (`variantSymlinks.hostDefaults`), and an unpinned overlay is a warning.
 */
import { Document, isMap, isScalar, isSeq, type Node, type Pair, type YAMLSeq } from "yaml";
import { InputError } from "../../errors.js";
import { flavors } from "../../flavors/index.js";
import type { Arch } from "../../layer/id.js";
import { formatPath, formatProblem, invalidKeyMessage, type SpecProblem } from "../load.js";
import { resolutionProblems, type VariantExpression, variableSuffix } from "../resolve.js";
import { type LayerSpec, layerSpecSchema } from "../schema.js";
import { type DefaultsTree, readDefaultsTree } from "./filesystem-layer.js";
import {
  evaluate,
  hasTemplate,
  literalText,
  type Part,
  type PlaceholderName,
  TemplateError,
  templateText,
} from "./jinja.js";
import type { Mode, RoleVariables } from "./role.js";
import { type PathKey, type Position, YamlSource } from "./sources.js";

export interface TextFile {
  text: string;
  file: string;
}

export interface ImportInput {
  /** The role's `defaults/main.yml`. */
  defaults: TextFile;
  /** One `vars/<version>.yml`. */
  vars: TextFile;
  /** EESSI filesystem-layer `create_cvmfs_content_structure_vars_<repo>.yml`: the defaults tree. */
  filesystemLayer?: TextFile;
  /** CPU families of the layer; default x86_64, aarch64, riscv64 (what EESSI builds). */
  arches?: Arch[];
  /** Stack name; default `eessi`. */
  stack?: string;
}

export interface ImportResult {
  /** The spec as commented YAML. */
  yaml: string;
  /** The validated spec (what `yaml` parses to). */
  spec: LayerSpec;
  /** Things the user must know: unpinned overlays, variables not imported, … */
  warnings: string[];
}

export const DEFAULT_ARCHES: Arch[] = ["x86_64", "aarch64", "riscv64"];

/** Variables that stand for a spec placeholder wherever they are used. */
const PLACEHOLDER_VARIABLES: Record<string, PlaceholderName> = {
  cvmfs_repository: "repository",
  eessi_version: "version",
  eessi_host_os: "os",
  eessi_host_arch: "arch",
  ansible_architecture: "arch",
  gentoo_prefix_path: "prefix",
};

/** Role variables that become spec fields. */
const IMPORTED = new Set([
  "eessi_version",
  "eessi_host_os",
  "eessi_host_arch",
  "custom_overlays",
  "cvmfs_repository",
  "gentoo_prefix_path",
  "compat_defaults_dir",
  "gentoo_git_repo",
  "gentoo_git_branch",
  "gentoo_git_commit",
  "prefix_required_space",
  "prefix_user_defined_trusted_dirs",
  "prefix_accept_keywords",
  "prefix_make_conf_files",
  "prefix_package_env_files",
  "prefix_profile_package_use_mask",
  "prefix_mask_packages",
  "prefix_unmask_packages",
  "prefix_bootstrap_use_flags",
  "prefix_locales",
  "package_sets",
  "prefix_packages",
  "prefix_remove_packages",
  "symlinks_to_host",
  "create_variant_symlinks",
]);

/** Role variables compat replaces with its own mechanism, grouped by what replaces them. */
const NOT_IMPORTED: Record<string, string[]> = {
  "bootstrap script (gentoo.bootstrap.script; EESSI's copy differs from Gentoo's in answering no to stable Prefix)":
    [
      "prefix_use_builtin_bootstrap",
      "prefix_custom_bootstrap_script",
      "prefix_source_options",
      "prefix_install",
    ],
  "build record (compat writes its own)": [
    "prefix_reprod_dir",
    "prefix_packages_file",
    "prefix_metadata_json",
  ],
  "logs (compat logs into the run directory)": ["eessi_log_dir", "prefix_build_log", "emerge_log"],
  "ReFrame tests (compat check replaces them)": ["reframe_venv_dir", "reframe_version"],
};
const NOT_IMPORTED_NAMES = new Set(Object.values(NOT_IMPORTED).flat());

/** A problem already located in a source file (raised from nested variable evaluation). */
const JINJA_HINT =
  "the importer understands the Jinja the EESSI role uses: variables, the filters replace/lower/upper/trim and {% raw %}";
const ROLE_FILES_HINT =
  "give the compatibility-layer role's defaults/main.yml, then one of its vars/<version>.yml (both YAML mappings of variables)";

/**
 * Variables the role's defaults/main.yml sets and no vars/<version>.yml does (2023.06 to 2026.06):
 * how the two files are told apart when they are given the other way round.
 */
const DEFAULTS_ONLY = [
  "gentoo_prefix_path",
  "cvmfs_repository",
  "compat_defaults_dir",
  "gentoo_git_repo",
  "gentoo_git_branch",
  "prefix_required_space",
  "prefix_locales",
  "prefix_use_builtin_bootstrap",
  "prefix_custom_bootstrap_script",
  "prefix_source_options",
  "prefix_install",
  "prefix_reprod_dir",
  "prefix_packages_file",
  "prefix_metadata_json",
  "eessi_log_dir",
  "prefix_build_log",
  "emerge_log",
  "reframe_venv_dir",
  "create_variant_symlinks",
];
/** A file setting at least this many of DEFAULTS_ONLY is the role's defaults (the real one sets all 19). */
const DEFAULTS_THRESHOLD = 5;

/** The DEFAULTS_ONLY variables a role file sets. */
function defaultsMarks(data: unknown): string[] {
  if (data === null || typeof data !== "object" || Array.isArray(data)) return [];
  return DEFAULTS_ONLY.filter((name) => Object.hasOwn(data, name));
}

class LocatedProblem extends Error {
  readonly problem: SpecProblem;
  constructor(problem: SpecProblem) {
    super(problem.message);
    this.problem = problem;
  }
}

interface Variable {
  src: YamlSource;
  value: unknown;
}

/** The flavor whose layers EESSI's role builds: the one that imports the role's variables. */
function roleFlavor() {
  for (const f of flavors.values()) if (f.ansibleRole) return { id: f.id, ansibleRole: f.ansibleRole };
  throw new Error("no flavor imports EESSI's compatibility_layer role");
}

export function importAnsible(input: ImportInput): ImportResult {
  return new Importer(input).run();
}

class Importer implements RoleVariables {
  private defaults: YamlSource;
  private vars: YamlSource;
  private readonly variables = new Map<string, Variable>();
  private readonly problems: SpecProblem[] = [];
  private readonly warnings: string[] = [];
  /** Spec paths and the source positions they come from, to report schema problems at the source. */
  private readonly origins: Array<{ path: PathKey[]; at: Position }> = [];
  /** Comments to put before spec fields or list items. */
  private readonly comments: Array<{ path: PathKey[]; text: string }> = [];
  private readonly evaluating = new Set<string>();
  /** Paths of lists written in flow style (`[a, b]`), besides arches and locales. */
  private readonly flow: PathKey[][] = [];
  private readonly tree: DefaultsTree | undefined;

  constructor(private readonly input: ImportInput) {
    this.defaults = new YamlSource(input.defaults.text, input.defaults.file);
    this.vars = new YamlSource(input.vars.text, input.vars.file);
    this.tree = input.filesystemLayer
      ? readDefaultsTree(input.filesystemLayer.text, input.filesystemLayer.file)
      : undefined;
  }

  run(): ImportResult {
    const syntax = [...this.defaults.syntaxProblems(), ...this.vars.syntaxProblems()];
    if (syntax.length > 0) throw this.error(syntax, ROLE_FILES_HINT);
    this.checkRoleFiles();
    for (const src of [this.defaults, this.vars]) {
      const data = src.toJS();
      if (data === null || data === undefined) continue;
      if (typeof data !== "object" || Array.isArray(data)) {
        throw this.error(
          [{ ...src.position([]), field: "", message: "expected a mapping of Ansible variables" }],
          ROLE_FILES_HINT,
        );
      }
      for (const [name, value] of Object.entries(data as Record<string, unknown>))
        this.variables.set(name, { src, value });
    }
    this.reportUnimported();

    const spec = this.buildSpec();
    if (this.problems.length > 0) throw this.error(this.problems);
    const checked = layerSpecSchema.safeParse(spec);
    if (!checked.success) {
      throw this.error(
        checked.error.issues.map((issue) => {
          const path = issue.path as PathKey[];
          const message = issue.code === "invalid_key" ? invalidKeyMessage(issue) : issue.message;
          return { ...this.originOf(path), field: formatPath(path), message };
        }),
      );
    }
    // the same rules as loading a spec: every value that becomes a path stays inside its directory
    const resolved = resolutionProblems(checked.data);
    if (resolved.length > 0)
      throw this.error(
        resolved.map((p) => ({
          ...this.originOf(p.path as PathKey[]),
          field: formatPath(p.path),
          message: p.message,
        })),
      );
    return { yaml: this.render(spec), spec: checked.data, warnings: this.warnings };
  }

  /**
   * Which file is the defaults and which the vars file, by the variables they set: given the other
   * way round, the vars file's values would lose to the defaults (version 2026.06, no removals …)
   * and a plausible, wrong spec would come out. Swapped files are taken in the right order, with
   * a warning; two files of the same kind are refused.
   */
  private checkRoleFiles(): void {
    const marks = [this.defaults, this.vars].map((src) => defaultsMarks(src.toJS()));
    const [asDefaults, asVars] = marks.map((m) => m.length >= DEFAULTS_THRESHOLD) as [boolean, boolean];
    const sample = (m: string[]) => `${m.slice(0, 4).join(", ")}${m.length > 4 ? ", …" : ""}`;
    if (!asDefaults && asVars) {
      this.warnings.push(
        `${this.vars.file} is the role's defaults/main.yml (it sets ${sample(marks[1]!)}) and ${this.defaults.file} a vars/<version>.yml: given the other way round, they are read as defaults ${this.vars.file}, vars ${this.defaults.file}`,
      );
      [this.defaults, this.vars] = [this.vars, this.defaults];
      return;
    }
    if (asDefaults && !asVars) return;
    const position = (src: YamlSource) => ({ ...src.position([]), field: "" });
    throw this.error(
      asDefaults
        ? [
            {
              ...position(this.vars),
              message: `this is the role's defaults/main.yml too (it sets ${sample(marks[1]!)}), not a vars/<version>.yml`,
            },
          ]
        : [
            {
              ...position(this.defaults),
              message: `this is not the role's defaults/main.yml: it sets ${marks[0]!.length ? `only ${sample(marks[0]!)} of` : "none of"} the variables the defaults set (${sample(DEFAULTS_ONLY)})`,
            },
          ],
      ROLE_FILES_HINT,
    );
  }

  // ---- variables and Jinja --------------------------------------------------------------------

  private error(problems: SpecProblem[], hint = JINJA_HINT): InputError {
    const sorted = [...problems].sort(
      (a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.col - b.col,
    );
    return new InputError(
      `cannot import the Ansible variables (${sorted.length} problem${sorted.length === 1 ? "" : "s"})`,
      {
        details: sorted.map(formatProblem),
        hint,
      },
    );
  }

  has(name: string): boolean {
    return this.variables.has(name);
  }

  private valueAt(path: readonly PathKey[]): unknown {
    let v: unknown = this.variables.get(String(path[0]))?.value;
    for (const key of path.slice(1)) {
      if (v === null || typeof v !== "object") return undefined;
      v = (v as Record<PathKey, unknown>)[key];
    }
    return v;
  }

  private srcOf(path: readonly PathKey[]): YamlSource {
    return this.variables.get(String(path[0]))?.src ?? this.vars;
  }

  position(path: readonly PathKey[], offset?: number): Position {
    return this.srcOf(path).position(path, offset);
  }

  private problem(path: readonly PathKey[], message: string, offset?: number): void {
    this.problems.push({ ...this.position(path, offset), field: formatPath(path), message });
  }
  missing(variable: string, message: string): void {
    this.problems.push({ ...this.vars.position([]), field: variable, message });
  }

  warnAt(path: readonly PathKey[], message: string): void {
    const pos = this.position(path);
    this.warnings.push(`${pos.file}:${pos.line}:${pos.col} ${message}`);
  }

  private lookup = (name: string): Part[] => {
    const placeholder = Object.hasOwn(PLACEHOLDER_VARIABLES, name) ? PLACEHOLDER_VARIABLES[name] : undefined;
    if (placeholder) {
      const value =
        placeholder === "arch" || placeholder === "prefix" ? undefined : this.placeholderValue(name);
      return [{ kind: "placeholder", name: placeholder, ...(value === undefined ? {} : { value }) }];
    }
    const v = this.variables.get(name);
    if (!v) throw new TemplateError(`unknown variable ${name}`, 0);
    if (typeof v.value === "number" || typeof v.value === "boolean")
      return [{ kind: "text", text: String(v.value) }];
    if (typeof v.value !== "string")
      throw new TemplateError(`${name} is not a string, so it cannot be used inside a string`, 0);
    return this.evaluateAt([name], v.value);
  };

  private placeholderValue(name: string): string | undefined {
    const v = this.variables.get(name);
    if (!v) throw new TemplateError(`${name} is not set`, 0);
    if (typeof v.value !== "string") return String(v.value);
    const parts = this.evaluateAt([name], v.value);
    const text = literalText(parts);
    if (text === undefined)
      throw new LocatedProblem({
        ...this.position([name]),
        field: name,
        message: "must have the same value on every arch",
      });
    return text;
  }

  /** Evaluate the template at `path`; errors carry the position inside the source. */
  private evaluateAt(path: readonly PathKey[], value: string): Part[] {
    if (!hasTemplate(value)) return [{ kind: "text", text: value }];
    const key = formatPath(path);
    if (this.evaluating.has(key))
      throw new LocatedProblem({
        ...this.position(path),
        field: key,
        message: `refers to itself (${[...this.evaluating, key].join(" → ")})`,
      });
    this.evaluating.add(key);
    try {
      return evaluate(value, this.lookup);
    } catch (e) {
      if (e instanceof TemplateError)
        throw new LocatedProblem({ ...this.position(path, e.offset), field: key, message: e.message });
      throw e;
    } finally {
      this.evaluating.delete(key);
    }
  }

  /**
   * A string field. `value`: one value for all arches. `content`: file contents, written as they
   * are (no placeholders). `template`: per-arch values become `{placeholders}`.
   */
  str(path: readonly PathKey[], mode: Mode, origin?: PathKey[]): string | undefined {
    const raw = this.valueAt(path);
    if (raw === undefined || raw === null) return undefined;
    let text: string;
    if (typeof raw === "string") text = raw;
    else if (typeof raw === "number") {
      // keep what was written (1.10 stays 1.10)
      const node = this.srcOf(path).node(path);
      text = node && isScalar(node) && node.source !== undefined ? String(node.source) : String(raw);
    } else {
      this.problem(path, `expected a string, got ${Array.isArray(raw) ? "a list" : typeof raw}`);
      return undefined;
    }
    let parts: Part[];
    try {
      parts = this.evaluateAt(path, text);
    } catch (e) {
      if (e instanceof LocatedProblem) {
        this.problems.push(e.problem);
        return undefined;
      }
      throw e;
    }
    if (origin) this.origins.push({ path: origin, at: this.position(path) });
    if (mode === "template") {
      const literal = parts.find((p) => p.kind === "text" && /\{[A-Za-z_]+\}/.test(p.text));
      if (literal?.kind === "text") {
        this.problem(path, `"${literal.text}" contains {…}, which the spec would read as a placeholder`);
        return undefined;
      }
      return templateText(parts);
    }
    const value = literalText(parts);
    if (value === undefined) {
      const p = parts.find((x) => x.kind === "placeholder" && x.value === undefined);
      const which = p?.kind === "placeholder" ? `{${p.name}}` : "a per-arch value";
      this.problem(
        path,
        mode === "content"
          ? `file contents are written as they are, so they cannot use ${which}, which differs per arch`
          : `this setting has one value for all arches, but it uses ${which}`,
        p?.kind === "placeholder" ? p.at : undefined,
      );
    }
    return value;
  }

  bool(path: readonly PathKey[], origin: PathKey[]): boolean | undefined {
    const raw = this.valueAt(path);
    if (raw === undefined || raw === null) return undefined;
    if (typeof raw !== "boolean") {
      this.problem(path, `expected true or false, got ${JSON.stringify(raw)}`);
      return undefined;
    }
    this.origins.push({ path: origin, at: this.position(path) });
    return raw;
  }

  /** A list variable; null counts as empty, anything else not a list is a problem. */
  private list(path: readonly PathKey[]): unknown[] {
    const raw = this.valueAt(path);
    if (raw === undefined || raw === null) return [];
    if (!Array.isArray(raw)) {
      this.problem(path, "expected a list");
      return [];
    }
    return raw;
  }

  strings(path: readonly PathKey[], mode: Mode, origin: PathKey[]): string[] {
    const out: string[] = [];
    this.list(path).forEach((_, i) => {
      const s = this.str([...path, i], mode, [...origin, out.length]);
      if (s !== undefined) out.push(s);
    });
    return out;
  }

  private mapping(path: readonly PathKey[]): Record<string, unknown> {
    const raw = this.valueAt(path);
    if (raw === undefined || raw === null) return {};
    if (typeof raw !== "object" || Array.isArray(raw)) {
      this.problem(path, "expected a mapping");
      return {};
    }
    return raw as Record<string, unknown>;
  }

  comment(path: PathKey[], text: string | undefined): void {
    if (text && text.trim() !== "") this.comments.push({ path, text });
  }

  /** The comment above a variable in the file that set it, as written there. */
  sourceComment(path: readonly PathKey[]): string | undefined {
    return this.srcOf(path).commentBefore(path);
  }

  private originOf(path: readonly PathKey[]): Position {
    let best: { path: PathKey[]; at: Position } | undefined;
    for (const o of this.origins)
      if (o.path.length <= path.length && o.path.every((k, i) => k === path[i]))
        if (!best || o.path.length > best.path.length) best = o;
    return best?.at ?? { file: this.vars.file, line: 1, col: 1 };
  }

  private reportUnimported(): void {
    const unknown: string[] = [];
    for (const [name, v] of this.variables) {
      if (IMPORTED.has(name) || NOT_IMPORTED_NAMES.has(name)) continue;
      const at = v.src.position([name]);
      unknown.push(`${at.file}:${at.line}:${at.col} ${name}`);
    }
    if (unknown.length > 0)
      this.warnings.push(`not variables of EESSI's compatibility_layer role, ignored: ${unknown.join(", ")}`);
    const skipped = Object.entries(NOT_IMPORTED)
      .map(([what, names]) => [what, names.filter((n) => this.has(n))] as const)
      .filter(([, names]) => names.length > 0)
      .map(([what, names]) => `${names.join(", ")} → ${what}`);
    if (skipped.length > 0)
      this.warnings.push(`not imported, compat does these its own way: ${skipped.join("; ")}`);
  }

  // ---- the spec ------------------------------------------------------------------------------

  private buildSpec(): Record<string, unknown> {
    const stack = this.input.stack ?? "eessi";
    const arches = this.input.arches ?? DEFAULT_ARCHES;
    const repository = this.str(["cvmfs_repository"], "value", ["repository"]);
    const version = this.str(["eessi_version"], "value", ["version"]);
    const os = this.str(["eessi_host_os"], "value", ["os"]) ?? "linux";
    const prefix = this.prefixTemplate();
    const spec: Record<string, unknown> = {
      repository,
      stack,
      version,
      os,
      arches,
      flavor: roleFlavor().id,
      prefix,
    };
    this.comment(
      ["arches"],
      this.input.arches
        ? " CPU families (--arches)"
        : " CPU families EESSI builds; the vars file does not list them (eessi_host_arch is the build host's)",
    );
    this.comment(["prefix"], " EPREFIX (gentoo_prefix_path)");
    this.comment(["version"], this.sourceComment(["eessi_version"]));

    const flavor = roleFlavor();
    const section = flavor.ansibleRole.importSection(this, prefix, version);
    spec[flavor.id] = section;
    this.flow.push(...flavor.ansibleRole.flowPaths(section));

    spec.locales = this.strings(["prefix_locales"], "value", ["locales"]);
    this.comment(["locales"], " prefix_locales: lines of etc/locale.gen");
    Object.assign(spec, this.hostSymlinks(prefix));
    return spec;
  }

  private prefixTemplate(): string {
    const raw = this.valueAt(["gentoo_prefix_path"]);
    if (typeof raw !== "string") {
      this.problem(["gentoo_prefix_path"], "gentoo_prefix_path must be set to a path");
      return "";
    }
    try {
      const parts = this.evaluateAt(["gentoo_prefix_path"], raw);
      this.origins.push({ path: ["prefix"], at: this.position(["gentoo_prefix_path"]) });
      return templateText(parts);
    } catch (e) {
      if (e instanceof LocatedProblem) this.problems.push(e.problem);
      else throw e;
      return "";
    }
  }

  /** `<prefix template>/x` → `{prefix}/x`: the same path, said the short way. */
  underPrefix(path: string, prefix: string): string {
    return prefix !== "" && path.startsWith(`${prefix}/`) ? `{prefix}${path.slice(prefix.length)}` : path;
  }

  /**
   * The mappings of a list variable, each turned into a spec entry by `convert`; entries that are
   * not mappings are problems, unknown keys are warnings.
   */
  mappings(
    variable: string,
    field: PathKey[],
    known: string[],
    convert: (path: PathKey[], at: PathKey[], item: Record<string, unknown>) => Record<string, unknown>,
  ): Record<string, unknown>[] {
    const out: Record<string, unknown>[] = [];
    this.list([variable]).forEach((item, i) => {
      const path: PathKey[] = [variable, i];
      const at: PathKey[] = [...field, out.length];
      if (item === null || typeof item !== "object" || Array.isArray(item)) {
        this.problem(path, `expected a mapping with ${known.join(", ")}`);
        return;
      }
      this.warnUnknownKeys(path, item as Record<string, unknown>, known);
      const entry = convert(path, at, item as Record<string, unknown>);
      this.origins.push({ path: at, at: this.position(path) });
      this.comment(at, this.sourceComment(path));
      out.push(entry);
    });
    return out;
  }

  /** Copy the string (or boolean) fields `source key → spec key` that are set. */
  fields(
    path: PathKey[],
    at: PathKey[],
    strings: Array<[string, string]>,
    booleans: Array<[string, string]> = [],
  ): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [from, to] of strings) {
      const v = this.str([...path, from], "value", [...at, to]);
      if (v !== undefined) out[to] = v;
    }
    for (const [from, to] of booleans) {
      const v = this.bool([...path, from], [...at, to]);
      if (v !== undefined) out[to] = v;
    }
    return out;
  }

  private warnUnknownKeys(path: PathKey[], item: Record<string, unknown>, known: string[]): void {
    const unknown = Object.keys(item).filter((k) => !known.includes(k));
    if (unknown.length === 0) return;
    const pos = this.position(path);
    this.warnings.push(
      `${pos.file}:${pos.line}:${pos.col} ${formatPath(path)}: ignored ${unknown.join(", ")} (the role reads ${known.join(", ")})`,
    );
  }

  /** `prefix_make_conf_files` / `prefix_package_env_files`: name → content; empty ones are skipped as the role does. */
  fileMap(variable: string, at: PathKey[]): Record<string, string> {
    const out: Record<string, string> = {};
    for (const name of Object.keys(this.mapping([variable]))) {
      const content = this.str([variable, name], "content", [...at, name]);
      if (content !== undefined && content !== "") out[name] = content;
    }
    this.comment(
      at,
      ` ${variable}${this.valueAt([variable]) === null ? " (set to nothing in the vars file)" : ""}`,
    );
    return out;
  }

  /**
   * symlinks_to_host. In the role a string entry is always a plain link and only `{dest, src}`
   * entries with a `$(VAR:-default)` src become variant links; in the spec a string entry follows
   * variantSymlinks.enabled. A `{dest, src}` entry that is exactly what the spec derives from a
   * string entry is written as that string.
   */
  private hostSymlinks(prefix: string): Record<string, unknown> {
    const enabled = this.bool(["create_variant_symlinks"], ["variantSymlinks", "enabled"]) ?? true;
    const compatDefaults = this.has("compat_defaults_dir")
      ? this.str(["compat_defaults_dir"], "template", ["variantSymlinks", "defaultsDir"])
      : "/cvmfs/{repository}/defaults/compat";
    const standardDefaults = "/cvmfs/{repository}/defaults";
    let defaultsDir = standardDefaults;
    if (compatDefaults?.endsWith("/compat")) defaultsDir = compatDefaults.slice(0, -"/compat".length);
    else if (compatDefaults !== undefined)
      this.warnings.push(
        `compat_defaults_dir ${compatDefaults} does not end in /compat; variant links keep their fallback as plain target`,
      );
    const variablePrefix = `${(this.input.stack ?? "eessi").toUpperCase().replace(/[^A-Z0-9]/g, "_")}_{versionTag}`;

    type Entry = { kind: "string"; path: string } | { kind: "plain" | "variant"; dest: string; src: string };
    const entries: Array<{ entry: Entry; from: PathKey[] }> = [];
    this.list(["symlinks_to_host"]).forEach((item, i) => {
      const path: PathKey[] = ["symlinks_to_host", i];
      if (typeof item === "string") {
        const p = this.str(path, "template");
        if (p !== undefined) entries.push({ entry: { kind: "string", path: p }, from: path });
        return;
      }
      if (item === null || typeof item !== "object" || Array.isArray(item)) {
        this.problem(path, "expected a host path or a mapping with dest and src");
        return;
      }
      this.warnUnknownKeys(path, item as Record<string, unknown>, ["dest", "src"]);
      const dest = this.str([...path, "dest"], "template");
      const src = this.str([...path, "src"], "template");
      if (dest === undefined || src === undefined) {
        if (dest === undefined && (item as Record<string, unknown>).dest === undefined)
          this.problem(path, "dest is missing");
        if (src === undefined && (item as Record<string, unknown>).src === undefined)
          this.problem(path, "src is missing");
        return;
      }
      entries.push({ entry: { kind: src.startsWith("$(") ? "variant" : "plain", dest, src }, from: path });
    });

    const anyVariant = entries.some((e) => e.entry.kind === "variant");
    const stringsArePlain = enabled && anyVariant;
    const hostDefaults: Record<string, string> = {};
    const links: unknown[] = [];
    for (const { entry, from } of entries) {
      const at: PathKey[] = ["hostSymlinks", links.length];
      this.origins.push({ path: at, at: this.position(from) });
      this.comment(at, this.sourceComment(from));
      if (entry.kind === "string") {
        // the role links a string entry plainly; keep it plain when the spec makes variant links
        links.push(stringsArePlain ? { dest: entry.path.replace(/^\/+/, ""), src: entry.path } : entry.path);
        continue;
      }
      const dest = this.underPrefix(entry.dest, prefix);
      if (entry.kind === "variant") {
        const rel = dest.startsWith("{prefix}/") ? dest.slice("{prefix}".length) : undefined;
        if (
          rel !== undefined &&
          entry.src === `$(${variablePrefix}_COMPAT_${variableSuffix(rel)}:-${defaultsDir}/compat${rel})`
        ) {
          links.push(rel);
          continue;
        }
        this.hostDefault(entry.src, defaultsDir, hostDefaults, from);
      }
      links.push({ dest, src: entry.src });
    }

    const variantSymlinks: Record<string, unknown> = { enabled: enabled && anyVariant };
    if (defaultsDir !== standardDefaults) variantSymlinks.defaultsDir = defaultsDir;
    if (Object.keys(hostDefaults).length > 0) variantSymlinks.hostDefaults = hostDefaults;
    this.comment(
      ["hostSymlinks"],
      ` symlinks_to_host${anyVariant ? "" : " (plain links: the role links string entries to the host directly)"}`,
    );
    if (!anyVariant && enabled)
      this.comment(
        ["variantSymlinks"],
        " create_variant_symlinks is on, but the role makes variant links only from {dest, src} entries and this version has none",
      );
    if (Object.keys(hostDefaults).length > 0)
      this.comment(
        ["variantSymlinks", "hostDefaults"],
        ` plain targets of the defaults-tree entries outside compat/, used during the build and when\n variant links are off (${this.tree ? `from ${this.tree.file}` : "no --filesystem-layer file: /dev/null, the secure default of EESSI #227"})`,
      );
    return { hostSymlinks: links, variantSymlinks };
  }

  /** Record the plain target of a variant link whose fallback is in the defaults tree outside compat/. */
  private hostDefault(src: string, defaultsDir: string, out: Record<string, string>, from: PathKey[]): void {
    const variant = parseTemplatedVariant(src);
    if (!variant) {
      this.problem([...from, "src"], `${src} is not a variant symlink (expected $(VARIABLE:-/default/path))`);
      return;
    }
    const fallback = variant.fallback;
    if (!fallback.startsWith(`${defaultsDir}/`) || fallback.startsWith(`${defaultsDir}/compat/`)) return;
    const name = fallback.slice(defaultsDir.length + 1);
    const known = this.tree?.hostDefaults[name];
    if (known !== undefined) {
      out[name] = known;
      return;
    }
    out[name] = "/dev/null";
    if (this.tree) {
      const pos = this.position(from);
      const variable = variant.variable.replaceAll("{versionTag}", this.versionTag());
      this.warnings.push(
        `${pos.file}:${pos.line}:${pos.col} defaults/${name} is not in ${this.tree.file}${this.tree.entries.has(`defaults/${name}`) ? "" : " (it is missing or commented out there)"}: on CVMFS clients the link dangles unless ${variable} is set; its plain target is /dev/null like its siblings (EESSI #227)`,
      );
    }
  }

  private versionTag(): string {
    const v = this.valueAt(["eessi_version"]);
    return typeof v === "string" ? v.replaceAll(".", "") : "{versionTag}";
  }

  // ---- rendering -----------------------------------------------------------------------------

  private render(spec: Record<string, unknown>): string {
    const doc = new Document(dropUndefined(spec));
    const sources = [this.defaults.file, this.vars.file, this.input.filesystemLayer?.file]
      .filter((f): f is string => f !== undefined)
      .map((f) => `   ${f}`);
    doc.commentBefore = [
      ` EESSI compatibility layer ${String(spec.version)}, imported by \`compat import-ansible\` from`,
      ...sources,
      " Field reference: docs/spec.md. Placeholders such as {arch} and {prefix} are expanded per arch.",
    ].join("\n");
    for (const { path, text } of this.comments) attachComment(doc, path, text);
    for (const path of [["arches"], ...this.flow, ["locales"]]) setFlow(doc, path);
    return doc.toString({ lineWidth: 0 });
  }
}

/** `$(VAR:-fallback)` where VAR and fallback may hold spec placeholders such as {versionTag}. */
function parseTemplatedVariant(s: string): VariantExpression | undefined {
  const m = /^\$\(([A-Za-z0-9_{}]+):-([^()]*)\)$/.exec(s);
  return m ? { variable: m[1]!, fallback: m[2]! } : undefined;
}

function dropUndefined(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(dropUndefined);
  if (v && typeof v === "object")
    return Object.fromEntries(
      Object.entries(v as Record<string, unknown>)
        .filter(([, x]) => x !== undefined)
        .map(([k, x]) => [k, dropUndefined(x)]),
    );
  return v;
}

function attachComment(doc: Document, path: PathKey[], text: string): void {
  const last = path[path.length - 1];
  const parent = path.length > 1 ? doc.getIn(path.slice(0, -1), true) : doc.contents;
  let target: Node | undefined;
  if (typeof last === "number" && isSeq(parent)) target = (parent as YAMLSeq).items[last] as Node | undefined;
  else if (isMap(parent)) {
    const pair = parent.items.find((p: Pair) => isScalar(p.key) && p.key.value === last);
    target = pair?.key as Node | undefined;
  }
  if (!target) return;
  target.commentBefore = target.commentBefore ? `${target.commentBefore}\n${text}` : text;
}

function setFlow(doc: Document, path: PathKey[]): void {
  const node = doc.getIn(path, true);
  if (node && (isSeq(node) || isMap(node))) node.flow = true;
}
