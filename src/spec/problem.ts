/**
 * Problems of a layer spec: where they are (`file:line:col` and the dotted field) and what is wrong.
 * load.ts finds the line and column of a field; resolve.ts reports problems it finds after
 * expanding placeholders as FieldProblems (a field path and a message), which load.ts positions.
 */
import { InputError } from "../errors.js";

export interface SpecProblem {
  file: string;
  line: number;
  col: number;
  /** Dotted path of the field, e.g. `gentoo.packages[3].name`; empty for the document itself. */
  field: string;
  message: string;
}

/** A problem of one field, before it is placed in a file. */
export interface FieldProblem {
  path: PropertyKey[];
  message: string;
}

export function formatProblem(p: SpecProblem): string {
  return `${p.file}:${p.line}:${p.col} ${p.field ? `${p.field}: ` : ""}${p.message}`;
}

/** `gentoo.packages[3].name`; a key that would read wrongly there (`..`, `a b`, "") is quoted: `makeConf[".."]`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const seg of path) {
    const key = String(seg);
    if (typeof seg === "number") out += `[${seg}]`;
    else if (/^\.*$|[\s\p{Cc}[\]]/u.test(key)) out += `[${JSON.stringify(key)}]`;
    else out += out ? `.${key}` : key;
  }
  return out;
}

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
