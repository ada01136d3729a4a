/** `npm run docs:spec`: write docs/spec.md and docs/spec.schema.json from the schema. */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { renderSpecReference, specJsonSchema } from "./docs.js";

const docs = join(import.meta.dirname, "../../docs");
mkdirSync(docs, { recursive: true });
writeFileSync(join(docs, "spec.md"), renderSpecReference());
writeFileSync(join(docs, "spec.schema.json"), `${JSON.stringify(specJsonSchema(), null, 2)}\n`);
process.stderr.write("wrote docs/spec.md and docs/spec.schema.json\n");
