/**
 * Loading a layer spec: YAML → schema validation, with every problem reported as
 * `file:line:col field: message (expected …)` and near-miss keys answered with "did you mean".
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { closest } from "../config/near.js";
import {
  canonicalJson,
  formatPath,
  formatProblem,
  validateYamlText,
  type YamlProblem,
} from "../config/yaml.js";
import { InputError } from "../errors.js";
import { type LayerSpec, layerSpecSchema } from "./schema.js";

export { canonicalJson, closest, formatPath, formatProblem };

export type SpecProblem = YamlProblem;

export interface LoadedSpec {
  spec: LayerSpec;
  file: string;
  /** sha256 of the validated spec in canonical JSON: comments and key order do not change it. */
  hash: string;
}

/** Validate spec text; throws InputError listing every problem (exit 2). */
export function parseSpec(text: string, file: string): LoadedSpec {
  const problems = validateSpecText(text, file);
  if (problems.problems.length > 0 || problems.spec === undefined) throw specError(file, problems.problems);
  return { spec: problems.spec, file, hash: specHash(problems.spec) };
}

export async function loadSpec(file: string): Promise<LoadedSpec> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(`cannot read spec ${file}: ${code === "ENOENT" ? "no such file" : String(e)}`, {
      hint: "give the path of a layer spec YAML file, e.g. examples/dev.yaml",
    });
  }
  return parseSpec(text, file);
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
export function validateSpecText(text: string, file: string): { spec?: LayerSpec; problems: SpecProblem[] } {
  const { value, problems } = validateYamlText(layerSpecSchema, text, file, "spec fields");
  return value === undefined ? { problems } : { spec: value, problems };
}
