/**
 * Loading a layer spec: YAML → schema validation, with every problem reported as
 * `file:line:col field: message (expected …)` and near-miss keys answered with "did you mean".
 */
import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { closest } from "../config/near.js";
import {
  canonicalJson,
  type FieldProblem,
  formatPath,
  formatProblem,
  invalidKeyMessage,
  validateYamlText,
} from "../config/yaml.js";
import { InputError } from "../errors.js";
import type { SpecProblem } from "./problem.js";
import { resolutionProblems } from "./resolve.js";
import { type LayerSpec, layerSpecSchema } from "./schema.js";

export { canonicalJson, closest, formatPath, formatProblem, invalidKeyMessage, type SpecProblem };

export interface LoadedSpec {
  spec: LayerSpec;
  file: string;
  /** The text it was read from (what a build records). */
  text: string;
  /** sha256 of the validated spec in canonical JSON: comments and key order do not change it. */
  hash: string;
}

export interface SpecChecks {
  /**
   * More rules for a spec that passed the schema and resolves (e.g. flavors/plan.ts's planProblems,
   * which spec/ cannot import): their problems are reported with their line like the others.
   */
  check?: (spec: LayerSpec) => FieldProblem[];
}

/** Validate spec text; throws InputError listing every problem (exit 2). */
export function parseSpec(text: string, file: string, opts: SpecChecks = {}): LoadedSpec {
  const problems = validateSpecText(text, file, opts);
  if (problems.problems.length > 0 || problems.spec === undefined) throw specError(file, problems.problems);
  return { spec: problems.spec, file, text, hash: specHash(problems.spec) };
}

export async function loadSpec(file: string, opts: SpecChecks = {}): Promise<LoadedSpec> {
  return parseSpec(await readSpecFile(file), file, opts);
}

/** The largest spec file read: EESSI's biggest is 6 kB; a larger file is not a spec. */
export const MAX_SPEC_BYTES = 4 * 1024 * 1024;

const READ_HINT = "give the path of a layer spec YAML file, e.g. examples/dev.yaml";

/**
 * A spec file's text: a regular file of at most MAX_SPEC_BYTES of UTF-8 without NUL bytes. Anything
 * else (a directory, a FIFO or device that would never end, a binary or Latin-1 file) is an
 * InputError saying what it is.
 */
export async function readSpecFile(file: string): Promise<string> {
  const fail = (why: string, hint = READ_HINT) =>
    new InputError(`cannot read spec ${file}: ${why}`, { hint });
  let bytes: Buffer;
  try {
    const st = await stat(file);
    if (st.isDirectory()) throw fail("it is a directory, not a file");
    if (!st.isFile()) throw fail("it is not a regular file (a device, FIFO or socket)");
    if (st.size > MAX_SPEC_BYTES)
      throw fail(`it has ${st.size} bytes; a layer spec has at most ${MAX_SPEC_BYTES} (4 MiB)`);
    bytes = await readFile(file);
  } catch (e) {
    if (e instanceof InputError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw fail(
      code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : (e as Error).message,
    );
  }
  if (bytes.length > MAX_SPEC_BYTES) throw fail(`it has more than ${MAX_SPEC_BYTES} bytes`);
  const nul = bytes.indexOf(0);
  if (nul >= 0) throw fail(`it is a binary file (a NUL byte at offset ${nul}), not YAML text`);
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    const lossy = bytes.toString("utf8");
    const at = lossy.indexOf("\uFFFD");
    const line = lossy.slice(0, at).split("\n").length;
    throw fail(`line ${line} is not UTF-8 text`, "save the spec as UTF-8");
  }
}

export function specError(file: string, problems: SpecProblem[]): InputError {
  const n = problems.length;
  return new InputError(`${file}: invalid layer spec (${n} problem${n === 1 ? "" : "s"})`, {
    details: problems.map(formatProblem),
    hint: "the spec reference is docs/spec.md",
  });
}

export function specHash(spec: LayerSpec): string {
  return createHash("sha256").update(canonicalJson(spec)).digest("hex");
}

/** All problems of a spec text, in document order; `spec` is set when there are none. */
export function validateSpecText(
  text: string,
  file: string,
  opts: SpecChecks = {},
): { spec?: LayerSpec; problems: SpecProblem[] } {
  const { value, problems } = validateYamlText(layerSpecSchema, text, file, "spec fields", {
    // what is only wrong once placeholders are expanded (a host link's path, a set's name …)
    check: (spec) => {
      const found = resolutionProblems(spec);
      return found.length === 0 && opts.check ? opts.check(spec) : found;
    },
  });
  return value === undefined ? { problems } : { spec: value, problems };
}
