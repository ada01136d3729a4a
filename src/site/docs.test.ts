import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { renderSiteConfigReference, siteConfigJsonSchema } from "./docs.js";
import { parseSiteConfig } from "./load.js";
import { siteConfigSchema } from "./schema.js";

const docs = join(import.meta.dirname, "../../docs");

describe("docs/site-config.md", () => {
  it("is what the schema renders (run `npm run docs:site` after changing the schema)", () => {
    expect(readFileSync(join(docs, "site-config.md"), "utf8")).toBe(renderSiteConfigReference());
    expect(readFileSync(join(docs, "site-config.schema.json"), "utf8")).toBe(
      `${JSON.stringify(siteConfigJsonSchema(), null, 2)}\n`,
    );
  });

  it("documents every section and the nested mappings", () => {
    const text = renderSiteConfigReference();
    for (const key of Object.keys(siteConfigSchema.shape)) expect(text).toContain(`| \`${key}\` |`);
    for (const section of ["`layers.*`", "`targets.*`", "`targets.*.policy`", "`approvers.*`"])
      expect(text).toContain(`## ${section}`);
  });

  it("has an example that is a valid site config", () => {
    const example = /```yaml\n([\s\S]*?)```/.exec(renderSiteConfigReference())?.[1];
    expect(example).toBeDefined();
    const site = parseSiteConfig(example!, "/etc/compat/compat.yaml");
    expect(Object.keys(site.targets)).toEqual(["staging", "production"]);
  });
});
