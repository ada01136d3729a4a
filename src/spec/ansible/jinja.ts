/**
 * A small evaluator for the Jinja that EESSI's role variables use. It turns a templated string
 * into parts: literal text and spec placeholders (`{arch}`, `{prefix}` …), so a value that
 * differs per arch stays a placeholder in the imported spec. What it does not understand it
 * refuses with an error naming the construct; it never guesses.
 *
 * Supported: `{{ name }}`, `{{ name | filter(args) | … }}` with the filters replace, lower, upper
 * and trim, string and number literals, and `{% raw %}…{% endraw %}` (content kept literally, the
 * markers removed; like Ansible's Jinja with trim_blocks, the newline right after `{% endraw %}`
 * goes and the one right after `{% raw %}` stays).
 */

/** The spec placeholders an expression can stand for (see src/spec/resolve.ts). */
export type PlaceholderName = "repository" | "stack" | "version" | "versionTag" | "os" | "arch" | "prefix";

export type Part =
  | { kind: "text"; text: string }
  /** `value` is set when the placeholder has one value for every arch (repository, version …). */
  | {
      kind: "placeholder";
      name: PlaceholderName;
      value?: string;
      /** Offset of the `{{` it came from in the evaluated source. */
      at?: number;
    };

export class TemplateError extends Error {
  /** Offset in the template source where the problem is. */
  readonly offset: number;
  constructor(message: string, offset: number) {
    super(message);
    this.offset = offset;
  }
}

/** Resolves a variable name to parts; throws TemplateError (offset 0 is fine) when unknown. */
export type Lookup = (name: string) => Part[];

export function hasTemplate(s: string): boolean {
  return s.includes("{{") || s.includes("{%") || s.includes("{#");
}

export function evaluate(source: string, lookup: Lookup): Part[] {
  const parts: Part[] = [];
  const pushText = (text: string) => {
    if (text === "") return;
    const last = parts[parts.length - 1];
    if (last?.kind === "text") last.text += text;
    else parts.push({ kind: "text", text });
  };
  let i = 0;
  while (i < source.length) {
    const next = nextOpening(source, i);
    if (next === -1) {
      pushText(source.slice(i));
      break;
    }
    pushText(source.slice(i, next));
    const opener = source.slice(next, next + 2);
    if (opener === "{#")
      throw new TemplateError(
        // biome-ignore lint/suspicious/noTemplateCurlyInString: shell text in a message, not a JS template
        "`{#` starts a Jinja comment, which this importer does not take; if it is shell text (e.g. ${#array}), wrap it in {% raw %}…{% endraw %}",
        next,
      );
    if (opener === "{%") {
      const end = source.indexOf("%}", next + 2);
      if (end === -1) throw new TemplateError("unclosed `{%`", next);
      const tag = source.slice(next + 2, end).trim();
      if (tag !== "raw")
        throw new TemplateError(
          `unsupported Jinja statement {% ${tag} %} (only {% raw %}…{% endraw %} is understood)`,
          next,
        );
      const close = /\{%\s*endraw\s*%\}/g;
      close.lastIndex = end + 2;
      const m = close.exec(source);
      if (!m) throw new TemplateError("{% raw %} without {% endraw %}", next);
      pushText(source.slice(end + 2, m.index));
      i = m.index + m[0].length;
      if (source[i] === "\n") i++; // trim_blocks
      continue;
    }
    const end = findExpressionEnd(source, next + 2);
    for (const p of evaluateExpression(source.slice(next + 2, end), next + 2, lookup))
      parts.push(p.kind === "placeholder" ? { ...p, at: next } : p);
    i = end + 2;
  }
  return merge(parts);
}

function nextOpening(s: string, from: number): number {
  const re = /\{[{%#]/g;
  re.lastIndex = from;
  const m = re.exec(s);
  return m ? m.index : -1;
}

/** The offset of the `}}` closing an expression that starts at `from` (quotes respected). */
function findExpressionEnd(s: string, from: number): number {
  let quote: string | undefined;
  for (let i = from; i < s.length - 1; i++) {
    const c = s[i]!;
    if (quote) {
      if (c === "\\") i++;
      else if (c === quote) quote = undefined;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === "}" && s[i + 1] === "}") return i;
  }
  throw new TemplateError("unclosed `{{`", from - 2);
}

type Token =
  | { t: "name"; v: string; at: number }
  | { t: "str"; v: string; at: number }
  | { t: "num"; v: string; at: number }
  | { t: "op"; v: string; at: number };

function tokenize(expr: string, base: number): Token[] {
  const tokens: Token[] = [];
  const re =
    /\s*(?:([A-Za-z_][A-Za-z0-9_]*)|'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"|(-?\d+(?:\.\d+)?)|([|(),.]))/y;
  let i = 0;
  while (i < expr.length) {
    if (/^\s*$/.test(expr.slice(i))) break;
    re.lastIndex = i;
    const m = re.exec(expr);
    if (!m) throw new TemplateError(`cannot read the expression from "${expr.slice(i).trim()}"`, base + i);
    const at = base + m.index + m[0].length - m[0].trimStart().length;
    if (m[1] !== undefined) tokens.push({ t: "name", v: m[1], at });
    else if (m[2] !== undefined) tokens.push({ t: "str", v: unescapeLiteral(m[2]), at });
    else if (m[3] !== undefined) tokens.push({ t: "str", v: unescapeLiteral(m[3]), at });
    else if (m[4] !== undefined) tokens.push({ t: "num", v: m[4], at });
    else tokens.push({ t: "op", v: m[5]!, at });
    i = re.lastIndex;
  }
  return tokens;
}

function unescapeLiteral(s: string): string {
  return s.replace(/\\(.)/g, (_m, c: string) => ({ n: "\n", t: "\t" })[c] ?? c);
}

function evaluateExpression(expr: string, base: number, lookup: Lookup): Part[] {
  const tokens = tokenize(expr, base);
  let pos = 0;
  const peek = () => tokens[pos];
  const take = (): Token => {
    const t = tokens[pos++];
    if (!t) throw new TemplateError(`the expression "${expr.trim()}" ends too early`, base + expr.length);
    return t;
  };
  const first = take();
  let value: Part[];
  if (first.t === "name") {
    if (peek()?.v === "." || peek()?.v === "(")
      throw new TemplateError(
        `attribute access and calls are not supported in "${expr.trim()}" (only variables and filters)`,
        peek()!.at,
      );
    try {
      value = lookup(first.v);
    } catch (e) {
      if (e instanceof TemplateError) throw new TemplateError(e.message, first.at);
      throw e;
    }
  } else if (first.t === "str" || first.t === "num") value = [{ kind: "text", text: first.v }];
  else throw new TemplateError(`unexpected "${first.v}" in "${expr.trim()}"`, first.at);

  while (pos < tokens.length) {
    const bar = take();
    if (bar.v !== "|") throw new TemplateError(`unexpected "${bar.v}" in "${expr.trim()}"`, bar.at);
    const name = take();
    if (name.t !== "name") throw new TemplateError(`a filter name must follow "|"`, name.at);
    const args: string[] = [];
    if (peek()?.v === "(") {
      take();
      while (peek()?.v !== ")") {
        const a = take();
        if (a.t !== "str" && a.t !== "num")
          throw new TemplateError(`filter arguments must be literals, not "${a.v}"`, a.at);
        args.push(a.v);
        if (peek()?.v === ",") take();
        else if (peek()?.v !== ")")
          throw new TemplateError(`expected "," or ")" in "${expr.trim()}"`, take().at);
      }
      take();
    }
    value = applyFilter(name.v, args, value, name.at);
  }
  return value;
}

const FILTERS: Record<string, { arity: number; fn: (s: string, args: string[]) => string }> = {
  replace: { arity: 2, fn: (s, [a, b]) => s.replaceAll(a!, b!) },
  lower: { arity: 0, fn: (s) => s.toLowerCase() },
  upper: { arity: 0, fn: (s) => s.toUpperCase() },
  trim: { arity: 0, fn: (s) => s.trim() },
};

function applyFilter(name: string, args: string[], value: Part[], at: number): Part[] {
  const filter = Object.hasOwn(FILTERS, name) ? FILTERS[name] : undefined;
  if (!filter)
    throw new TemplateError(
      `unsupported filter "${name}" (this importer knows ${Object.keys(FILTERS).join(", ")})`,
      at,
    );
  if (args.length !== filter.arity)
    throw new TemplateError(`filter ${name} takes ${filter.arity} argument(s), got ${args.length}`, at);
  // The one per-arch-independent rewrite the role uses: the version without dots, e.g. 202606.
  const only = value.length === 1 ? value[0] : undefined;
  if (
    only?.kind === "placeholder" &&
    only.name === "version" &&
    name === "replace" &&
    args[0] === "." &&
    args[1] === ""
  )
    return [
      {
        kind: "placeholder",
        name: "versionTag",
        ...(only.value === undefined ? {} : { value: only.value.replaceAll(".", "") }),
      },
    ];
  const text = literalText(value);
  if (text === undefined) {
    const p = value.find((v) => v.kind === "placeholder" && v.value === undefined);
    throw new TemplateError(
      `cannot apply the filter ${name} to {${p?.kind === "placeholder" ? p.name : "?"}}: its value differs per arch`,
      at,
    );
  }
  return [{ kind: "text", text: filter.fn(text, args) }];
}

/** The text of parts whose every placeholder has a single value; undefined otherwise. */
export function literalText(parts: readonly Part[]): string | undefined {
  let out = "";
  for (const p of parts) {
    if (p.kind === "text") out += p.text;
    else if (p.value !== undefined) out += p.value;
    else return undefined;
  }
  return out;
}

/** The parts as a spec template: placeholders written `{name}`. */
export function templateText(parts: readonly Part[]): string {
  return parts.map((p) => (p.kind === "text" ? p.text : `{${p.name}}`)).join("");
}

function merge(parts: Part[]): Part[] {
  const out: Part[] = [];
  for (const p of parts) {
    const last = out[out.length - 1];
    if (p.kind === "text" && last?.kind === "text")
      out[out.length - 1] = { kind: "text", text: last.text + p.text };
    else if (p.kind !== "text" || p.text !== "") out.push(p);
  }
  return out;
}
