import { describe, expect, it } from "vitest";
import { z } from "zod";
import { validateYamlText } from "./yaml.js";

const schema = z.strictObject({
  items: z
    .record(
      z.string().regex(/^[a-z]+$/, { message: "lower-case letters only" }),
      z.strictObject({ n: z.int() }),
    )
    .default({}),
  url: z
    .string()
    .superRefine((v, ctx) => {
      if (v.includes("bad")) ctx.addIssue({ code: "custom", message: "not usable", params: { echo: false } });
    })
    .optional(),
  word: z
    .string()
    .refine((v) => v !== "no", { message: "not that one" })
    .optional(),
});

const problems = (text: string) =>
  validateYamlText(schema, text, "c.yaml", "fields").problems.map(
    (p) => `${p.line}:${p.col} ${p.field}: ${p.message}`,
  );

describe("YAML checked against a schema", () => {
  it("points at a bad name in a mapping of names, not at its value", () => {
    expect(problems("items:\n  ok: {n: 1}\n  Bad: {n: 2}\n")).toEqual([
      '3:3 items.Bad: the key "Bad": lower-case letters only',
    ]);
  });

  it("refuses a __proto__ key, which the schema would drop without a word", () => {
    expect(problems("items:\n  __proto__: {n: 1}\n")).toEqual([
      '2:3 items.__proto__: the key "__proto__" is not allowed (JavaScript would read it as the object\'s prototype and lose it)',
    ]);
    expect(problems("__proto__: {word: x}\n")).toEqual([
      '1:1 __proto__: the key "__proto__" is not allowed (JavaScript would read it as the object\'s prototype and lose it)',
    ]);
  });

  it("repeats a value in its problem unless the rule says not to", () => {
    expect(problems("word: 'no'\n")).toEqual(['1:7 word: "no": not that one']);
    expect(problems("url: 'postgres://u:bad@h/d'\n")).toEqual(["1:6 url: not usable"]);
  });
});
