/** `npm run docs:site`: write docs/site-config.md and docs/site-config.schema.json from the schema. */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { renderSiteConfigReference, siteConfigJsonSchema } from "./docs.js";

const docs = join(import.meta.dirname, "../../docs");
mkdirSync(docs, { recursive: true });
writeFileSync(join(docs, "site-config.md"), renderSiteConfigReference());
writeFileSync(join(docs, "site-config.schema.json"), `${JSON.stringify(siteConfigJsonSchema(), null, 2)}\n`);
process.stderr.write("wrote docs/site-config.md and docs/site-config.schema.json\n");
