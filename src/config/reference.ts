/**
 * A Markdown reference generated from a zod schema's descriptions (docs/spec.md,
 * docs/site-config.md): one table per mapping, nested mappings in their own sections.
 */
import { z } from "zod";

interface JsonSchema {
  type?: string | string[];
  description?: string;
  default?: unknown;
  enum?: unknown[];
  pattern?: string;
  minItems?: number;
  minLength?: number;
  format?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  additionalProperties?: JsonSchema | boolean;
  propertyNames?: JsonSchema;
}

/** A schema's JSON Schema, input side (fields with defaults are optional), e.g. for editors. */
export function jsonSchemaOf(schema: z.ZodType): Record<string, unknown> {
  return z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as Record<string, unknown>;
}

/** `intro` (Markdown, ending with a newline) followed by a section per mapping of the schema. */
export function renderReference(schema: z.ZodType, intro: string): string {
  const root = jsonSchemaOf(schema) as JsonSchema;
  const sections: string[] = [];
  const queue: Array<{ name: string; schema: JsonSchema }> = [{ name: "", schema: root }];
  while (queue.length > 0) {
    const { name, schema } = queue.shift()!;
    sections.push(renderObject(name, schema, (child, s) => queue.push({ name: child, schema: s })));
  }
  return `${intro}\n${sections.join("\n")}`;
}

function renderObject(
  name: string,
  schema: JsonSchema,
  nested: (name: string, s: JsonSchema) => void,
): string {
  const title = name === "" ? "Top level" : `\`${name}\``;
  const lines = [`## ${title}`, ""];
  if (name !== "" && schema.description) lines.push(`${capitalise(schema.description)}.`, "");
  lines.push("| field | type | default | description |", "|---|---|---|---|");
  const required = new Set(schema.required ?? []);
  for (const [key, prop] of Object.entries(schema.properties ?? {})) {
    const path = name === "" ? key : `${name}.${key}`;
    const def =
      prop.default !== undefined ? code(JSON.stringify(prop.default)) : required.has(key) ? "required" : "—";
    lines.push(`| \`${key}\` | ${typeOf(prop, path, nested)} | ${def} | ${cell(prop.description ?? "")} |`);
  }
  return `${lines.join("\n")}\n`;
}

function typeOf(s: JsonSchema, path: string, nested: (name: string, s: JsonSchema) => void): string {
  if (s.anyOf)
    return s.anyOf
      .map((alt) => {
        const type = typeOf(alt, path, nested);
        return alt.type !== "object" && alt.description ? `${type}: ${cell(alt.description)}` : type;
      })
      .join("; or ");
  if (s.enum) return `one of ${s.enum.map((e) => code(String(e))).join(", ")}`;
  if (s.type === "object" && s.properties) {
    nested(path, s);
    return `mapping, see [\`${path}\`](#${anchor(path)})`;
  }
  if (s.type === "object" && typeof s.additionalProperties === "object") {
    const key = s.propertyNames?.pattern ? ` (names: ${code(s.propertyNames.pattern)})` : "";
    return `mapping of name → ${typeOf(s.additionalProperties, `${path}.*`, nested)}${key}`;
  }
  if (s.type === "array" && s.items) {
    const objectItems = (x: JsonSchema) => x.type === "object" && x.properties !== undefined;
    const item = objectItems(s.items) || s.items.anyOf?.some(objectItems) ? `${path}[]` : path;
    const min = s.minItems ? ` (at least ${s.minItems})` : "";
    return `list${min} of ${typeOf(s.items, item, nested)}`;
  }
  const parts = [String(s.type ?? "any")];
  if (s.pattern && !s.format) parts.push(`matching ${code(s.pattern)}`);
  if (s.format === "starts_with") parts.push("(an absolute path)");
  return parts.join(" ");
}

function anchor(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^a-z0-9 _-]/g, "")
    .replace(/ /g, "-");
}

/** Inline code that survives a table cell (pipes escaped, backticks fenced). */
function code(s: string): string {
  const escaped = s.replace(/\|/g, "\\|");
  return escaped.includes("`") ? `\`\` ${escaped} \`\`` : `\`${escaped}\``;
}

function cell(s: string): string {
  return s.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
