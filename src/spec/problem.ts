/**
 * Problems of a layer spec: where they are (`file:line:col` and the dotted field) and what is wrong.
 * load.ts finds the line and column of a field; resolve.ts reports problems it finds after
 * expanding placeholders as FieldProblems (a field path and a message), which load.ts positions.
 */
import { type FieldProblem, formatPath, formatProblem, type YamlProblem } from "../config/yaml.js";
import { InputError } from "../errors.js";

export { type FieldProblem, formatPath, formatProblem };
export type SpecProblem = YamlProblem;

/** Values of a spec that are wrong once resolved (exit 2); loading a spec turns them into SpecProblems. */
export class SpecFieldError extends InputError {
  readonly problems: FieldProblem[];

  constructor(message: string, problems: FieldProblem[], hint?: string) {
    super(message, {
      details: problems.map((p) => `${formatPath(p.path)}: ${p.message}`),
      ...(hint ? { hint } : {}),
    });
    this.name = "SpecFieldError";
    this.problems = problems;
  }
}
