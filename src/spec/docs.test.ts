import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { renderSpecReference, specJsonSchema } from "./docs.js";
import { layerSpecSchema } from "./schema.js";

const docs = join(import.meta.dirname, "../../docs");

describe("docs/spec.md", () => {
  it("is what the schema renders (run `npm run docs:spec` after changing the schema)", () => {
    expect(readFileSync(join(docs, "spec.md"), "utf8")).toBe(renderSpecReference());
    expect(readFileSync(join(docs, "spec.schema.json"), "utf8")).toBe(
      `${JSON.stringify(specJsonSchema(), null, 2)}\n`,
    );
  });

  it("documents every top-level field and the nested sections", () => {
    const text = renderSpecReference();
    for (const key of Object.keys(layerSpecSchema.shape)) expect(text).toContain(`| \`${key}\` |`);
    for (const section of [
      "`gentoo`",
      "`gentoo.overlays[]`",
      "`gentoo.packages[]`",
      "`debian`",
      "`variantSymlinks`",
    ])
      expect(text).toContain(`## ${section}`);
  });
});
