/**
 * Loading a layer spec: YAML → schema validation, with every problem reported as
 * `file:line:col field: message (expected …)` and near-miss keys answered with "did you mean".
 */
import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { isMap, isScalar, LineCounter, type Node, parseDocument, visit } from "yaml";
import { z } from "zod";
import { InputError } from "../errors.js";
import { closest } from "./near.js";
import { type FieldProblem, formatPath, formatProblem, type SpecProblem } from "./problem.js";
import { resolutionProblems } from "./resolve.js";
import { type LayerSpec, layerSpecSchema } from "./schema.js";

export { closest, formatPath, formatProblem, type SpecProblem };

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

export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v,
  );
}

/** All problems of a spec text, in document order; `spec` is set when there are none. */
export function validateSpecText(
  text: string,
  file: string,
  opts: SpecChecks = {},
): { spec?: LayerSpec; problems: SpecProblem[] } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number) => {
    const p = lineCounter.linePos(offset);
    return { line: p.line, col: p.col };
  };
  if (doc.errors.length > 0) {
    return {
      problems: doc.errors.map((e) => ({
        file,
        ...at(e.pos[0]),
        field: "",
        message: `YAML: ${e.message.split("\n")[0]}`,
      })),
    };
  }
  const key = badKey(doc);
  if (key) return { problems: [{ file, ...at(key.offset), field: "", message: key.message }] };
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (e) {
    // yaml throws a ReferenceError when aliases expand past maxAliasCount (a "billion laughs")
    const alias = firstAlias(doc);
    return {
      problems: [
        {
          file,
          ...(alias ? at(alias) : { line: 1, col: 1 }),
          field: "",
          message: `YAML: ${e instanceof ReferenceError ? `its aliases expand to more than ${MAX_ALIAS_COUNT} nodes (an alias bomb?); write the values out instead of aliasing them` : (e as Error).message}`,
        },
      ],
    };
  }
  if (data === null || typeof data !== "object" || Array.isArray(data)) {
    return { problems: [{ file, line: 1, col: 1, field: "", message: "expected a mapping of spec fields" }] };
  }
  const result = layerSpecSchema.safeParse(data);
  if (result.success) {
    // what is only wrong once placeholders are expanded (a host link's path, a set's name …)
    let found = resolutionProblems(result.data);
    if (found.length === 0 && opts.check) found = opts.check(result.data);
    const resolved = found.map((p) => ({
      file,
      ...positionOf(doc, p.path, at),
      field: formatPath(p.path),
      message: p.message,
    }));
    if (resolved.length === 0) return { spec: result.data, problems: [] };
    return { problems: resolved.sort((a, b) => a.line - b.line || a.col - b.col) };
  }

  const problems: SpecProblem[] = [];
  for (const issue of flattenIssues(result.error.issues, data)) {
    const path = issue.path as PropertyKey[];
    if (issue.code === "unrecognized_keys") {
      const allowed = keysAt(layerSpecSchema, path, data);
      for (const key of issue.keys) {
        const keyNode = findKeyNode(doc.getIn(path as unknown[], true) as Node | undefined, key);
        const pos = keyNode?.range ? at(keyNode.range[0]) : positionOf(doc, path, at);
        const guess = closest(key, allowed);
        problems.push({
          file,
          ...pos,
          field: formatPath([...path, key]),
          message: `unknown key${guess ? `, did you mean "${guess}"?` : ""} (expected one of ${allowed.join(", ")})`,
        });
      }
      continue;
    }
    if (issue.code === "invalid_key") {
      // a record's key (a file name): point at the key and say what is wrong with it
      const key = path[path.length - 1];
      const keyNode = findKeyNode(doc.getIn(path.slice(0, -1) as unknown[], true) as Node | undefined, key);
      problems.push({
        file,
        ...(keyNode?.range ? at(keyNode.range[0]) : positionOf(doc, path, at)),
        field: formatPath(path),
        message: invalidKeyMessage(issue),
      });
      continue;
    }
    problems.push({
      file,
      ...positionOf(doc, path, at),
      field: formatPath(path),
      message: describeIssue(issue, data, doc, path, text),
    });
  }
  problems.sort((a, b) => a.line - b.line || a.col - b.col);
  return { problems };
}

/** What is wrong with a record's key (a file name): `the key "..": is "..", the directory above …`. */
export function invalidKeyMessage(issue: z.core.$ZodIssueInvalidKey): string {
  const key = String(issue.path[issue.path.length - 1]);
  return `the key ${JSON.stringify(key)}: ${issue.issues.map((i) => i.message).join("; ")}`;
}

/** yaml's own default: enough for any spec, far from what an alias bomb needs. */
const MAX_ALIAS_COUNT = 100;

/**
 * The first mapping key a spec cannot have: a list or mapping used as a key (JavaScript would make
 * it a string, and yaml warns on stderr), or `__proto__` (JavaScript would read it as the object's
 * prototype and lose it).
 */
function badKey(doc: ReturnType<typeof parseDocument>): { offset: number; message: string } | undefined {
  let found: { offset: number; message: string } | undefined;
  visit(doc, {
    Pair(_key, pair) {
      const node = pair.key as Node | null;
      const offset = node?.range?.[0] ?? 0;
      if (node !== null && !isScalar(node))
        found = { offset, message: "a key must be a plain name, not a list or a mapping" };
      else if (isScalar(node) && node.value === "__proto__")
        found = {
          offset,
          message:
            'the key "__proto__" is not allowed (JavaScript would read it as the object\'s prototype and lose it)',
        };
      return found ? visit.BREAK : undefined;
    },
  });
  return found;
}

function firstAlias(doc: ReturnType<typeof parseDocument>): number | undefined {
  let offset: number | undefined;
  visit(doc, {
    Alias(_key, node) {
      offset = node.range?.[0];
      return visit.BREAK;
    },
  });
  return offset;
}

type Issue = z.core.$ZodIssue;

/** Unions report one issue list per branch; keep the branch that matches the value's shape. */
function flattenIssues(issues: readonly Issue[], data: unknown, prefix: PropertyKey[] = []): Issue[] {
  const out: Issue[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...issue.path];
    if (issue.code === "invalid_union" && issue.errors.length > 0) {
      const value = valueAt(data, path);
      const wantObject = value !== null && typeof value === "object";
      const branch =
        issue.errors.find(
          (errs) => errs.every((e) => e.code !== "invalid_type" || e.path.length > 0) === wantObject,
        ) ?? issue.errors[0]!;
      if (
        branch.length > 0 &&
        !(
          branch.length === 1 &&
          branch[0]!.code === "invalid_type" &&
          branch[0]!.path.length === 0 &&
          wantObject
        )
      ) {
        out.push(...flattenIssues(branch, data, path));
        continue;
      }
    }
    out.push({ ...issue, path } as Issue);
  }
  return out;
}

function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  let v = data;
  for (const seg of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<PropertyKey, unknown>)[seg];
  }
  return v;
}

function positionOf(
  doc: ReturnType<typeof parseDocument>,
  path: readonly PropertyKey[],
  at: (o: number) => { line: number; col: number },
): { line: number; col: number } {
  // The deepest node that exists on the path: a missing key is reported at its parent mapping.
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n) as unknown[], true) as Node | undefined;
    if (node && typeof node === "object" && node.range) {
      if (n < path.length && isMap(node)) {
        // point at the parent's key for a missing child, which is where the user will add it
        const parentKey = findKeyNode(
          doc.getIn(path.slice(0, n - 1) as unknown[], true) as Node | undefined,
          path[n - 1],
        );
        if (parentKey?.range) return at(parentKey.range[0]);
      }
      return at(node.range[0]);
    }
  }
  return { line: 1, col: 1 };
}

function findKeyNode(parent: Node | undefined, key: PropertyKey | undefined): Node | undefined {
  if (!parent || !isMap(parent) || key === undefined) return undefined;
  for (const pair of parent.items) {
    if (isScalar(pair.key) && String(pair.key.value) === String(key)) return pair.key;
  }
  return undefined;
}

function typeName(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  if (typeof v === "string") return "a string";
  if (typeof v === "number") return "a number";
  if (typeof v === "boolean") return "a boolean";
  return typeof v;
}

function describeIssue(
  issue: Issue,
  data: unknown,
  doc: ReturnType<typeof parseDocument>,
  path: readonly PropertyKey[],
  text: string,
): string {
  const value = valueAt(data, path);
  switch (issue.code) {
    case "invalid_type": {
      const expected =
        issue.expected === "object"
          ? "a mapping"
          : issue.expected === "array"
            ? "a list"
            : `a ${issue.expected}`;
      if (value === undefined) return `missing (expected ${expected})`;
      if (issue.expected === "string" && typeof value === "number") {
        const node = doc.getIn(path as unknown[], true) as Node | undefined;
        const src = node?.range ? text.slice(node.range[0], node.range[1]).trim() : String(value);
        return `the number ${src} is not a string (expected a string: write "${src}" in quotes)`;
      }
      return `got ${typeName(value)} (expected ${expected})`;
    }
    case "invalid_value":
      if (value === undefined)
        return `missing (expected one of ${issue.values.map((v) => String(v)).join(", ")})`;
      if (issue.message.startsWith("Invalid option") || issue.message.startsWith("Invalid input"))
        return `${JSON.stringify(value)} is not allowed (expected one of ${issue.values.map((v) => String(v)).join(", ")})`;
      return `${JSON.stringify(value)}: ${issue.message}`;
    case "too_small":
      if (issue.origin === "array")
        return `needs at least ${String(issue.minimum)} entr${issue.minimum === 1 ? "y" : "ies"}`;
      if (issue.origin === "string") return `must not be empty`;
      return issue.message;
    default:
      // a multi-line value (a file's content) is not repeated: the message says which line
      return typeof value === "string" && !value.includes("\n")
        ? `${JSON.stringify(value)}: ${issue.message}`
        : issue.message;
  }
}

/** The keys the schema allows at a path (for "did you mean"). */
function keysAt(schema: z.ZodType, path: readonly PropertyKey[], data: unknown): string[] {
  let s: z.ZodType | undefined = schema;
  for (let i = 0; i <= path.length && s; i++) {
    s = unwrap(s);
    if (s instanceof z.ZodUnion) {
      const value = valueAt(data, path.slice(0, i));
      s = (s.options as z.ZodType[])
        .map(unwrap)
        .find((o) => o instanceof z.ZodObject === (typeof value === "object"));
      if (!s) return [];
    }
    if (i === path.length) break;
    const seg = path[i];
    if (s instanceof z.ZodObject) s = (s.shape as Record<string, z.ZodType>)[String(seg)];
    else if (s instanceof z.ZodArray) s = s.element as z.ZodType;
    else if (s instanceof z.ZodRecord) s = s.valueType as z.ZodType;
    else return [];
  }
  s = s && unwrap(s);
  return s instanceof z.ZodObject ? Object.keys(s.shape) : [];
}

function unwrap(s: z.ZodType): z.ZodType {
  let cur = s;
  for (;;) {
    if (cur instanceof z.ZodDefault || cur instanceof z.ZodOptional || cur instanceof z.ZodNullable)
      cur = cur.unwrap() as z.ZodType;
    else return cur;
  }
}
