/**
 * YAML configuration files checked against a zod schema (the layer spec, the site config): every
 * problem reported as `file:line:col field: message (expected …)` and near-miss keys answered with
 * "did you mean".
 */
import { isMap, isPair, isScalar, LineCounter, type Node, parseDocument, visit } from "yaml";
import { z } from "zod";
import { closest } from "./near.js";

export interface YamlProblem {
  file: string;
  line: number;
  col: number;
  /** Dotted path of the field, e.g. `gentoo.packages[3].name`; empty for the document itself. */
  field: string;
  message: string;
}

export function formatProblem(p: YamlProblem): string {
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

/** A problem of one field found after the schema passed (a cross-document rule), before it is placed in a file. */
export interface FieldProblem {
  path: PropertyKey[];
  message: string;
}

/** JSON with the keys of every object sorted: the same value always gives the same text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v,
  );
}

/**
 * Run a cross-field rule whenever the fields it reads parsed, whatever else is wrong: zod skips
 * refinements after any issue by default, which hid these problems until every other one was fixed.
 * An issue at, above or below one of `fields` (other than an unknown key beside it) skips the rule,
 * so the rule only ever sees those fields in their parsed form.
 */
export function whenParsed(...fields: PropertyKey[][]): { when: (payload: z.core.ParsePayload) => boolean } {
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

/**
 * All problems of a YAML text checked against `schema`, in document order; `value` is set when
 * there are none. `noun` names the document in the message for a non-mapping ("spec fields").
 */
export function validateYamlText<S extends z.ZodType>(
  schema: S,
  text: string,
  file: string,
  noun: string,
  opts: { check?: (value: z.output<S>) => FieldProblem[] } = {},
): { value?: z.output<S>; problems: YamlProblem[] } {
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
  if (key)
    return { problems: [{ file, ...at(key.offset), field: formatPath(key.path), message: key.message }] };
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
          ...(alias === undefined ? { line: 1, col: 1 } : at(alias)),
          field: "",
          message: `YAML: ${e instanceof ReferenceError ? `its aliases expand to more than ${MAX_ALIAS_COUNT} nodes (an alias bomb?); write the values out instead of aliasing them` : (e as Error).message}`,
        },
      ],
    };
  }
  if (data === null || typeof data !== "object" || Array.isArray(data)) {
    return { problems: [{ file, line: 1, col: 1, field: "", message: `expected a mapping of ${noun}` }] };
  }
  const result = schema.safeParse(data);
  if (result.success) {
    const found = opts.check?.(result.data) ?? [];
    if (found.length === 0) return { value: result.data, problems: [] };
    return {
      problems: found
        .map((p) => ({ file, ...positionOf(doc, p.path, at), field: formatPath(p.path), message: p.message }))
        .sort((a, b) => a.line - b.line || a.col - b.col),
    };
  }

  const problems: YamlProblem[] = [];
  for (const issue of flattenIssues(result.error.issues, data)) {
    const path = issue.path as PropertyKey[];
    if (issue.code === "unrecognized_keys") {
      const allowed = keysAt(schema, path, data);
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
      // a name in a mapping of names (e.g. a target's name): point at the name, not its value
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
/** What is wrong with a key of a mapping of names (a file name, a target's name): `the key "..": …`. */
export function invalidKeyMessage(issue: z.core.$ZodIssueInvalidKey): string {
  const key = String(issue.path[issue.path.length - 1]);
  return `the key ${JSON.stringify(key)}: ${issue.issues.map((i) => i.message).join("; ")}`;
}

/** yaml's own default: enough for any config, far from what an alias bomb needs. */
const MAX_ALIAS_COUNT = 100;

/**
 * The first mapping key a config cannot have: a list or mapping used as a key (JavaScript would
 * make it a string, and yaml warns on stderr), or `__proto__` (JavaScript would read it as the
 * object's prototype, and zod drops it without a word).
 */
function badKey(
  doc: ReturnType<typeof parseDocument>,
): { offset: number; path: string[]; message: string } | undefined {
  let found: { offset: number; path: string[]; message: string } | undefined;
  visit(doc, {
    Pair(_key, pair, ancestors) {
      const node = pair.key as Node | null;
      const offset = node?.range?.[0] ?? 0;
      const path = ancestors.filter(isPair).map((p) => (isScalar(p.key) ? String(p.key.value) : "?"));
      if (node !== null && !isScalar(node))
        found = { offset, path, message: "a key must be a plain name, not a list or a mapping" };
      else if (isScalar(node) && String(node.value) === "__proto__")
        found = {
          offset,
          path: [...path, "__proto__"],
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
      // a number that is not one the schema can take (.inf, .nan, 1.5 for a whole number)
      if (typeof value === "number" && (issue.expected === "int" || issue.expected === "number"))
        return !Number.isFinite(value)
          ? `${value} is not a finite number`
          : Number.isInteger(value)
            ? `${value} is too large (expected a whole number up to ${Number.MAX_SAFE_INTEGER})`
            : `${value} is not a whole number`;
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
      // a multi-line value (a file's content) is not repeated: the message says which line; nor is
      // a value whose rule says it must not be (a URL that may hold a password)
      if (issue.code === "custom" && issue.params?.echo === false) return issue.message;
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
  if (s instanceof z.ZodObject) return Object.keys(s.shape);
  // a record keyed by an enum (e.g. executors: by arch): its keys are the enum's values
  const keyType = s instanceof z.ZodRecord ? unwrap(s.keyType as z.ZodType) : undefined;
  return keyType instanceof z.ZodEnum ? (keyType.options as string[]).map(String) : [];
}

function unwrap(s: z.ZodType): z.ZodType {
  let cur = s;
  for (;;) {
    if (cur instanceof z.ZodDefault || cur instanceof z.ZodOptional || cur instanceof z.ZodNullable)
      cur = cur.unwrap() as z.ZodType;
    else return cur;
  }
}
