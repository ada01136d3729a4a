/**
 * The official JSON schemas of the SBOM formats, compiled with ajv: CycloneDX 1.6 from the
 * @cyclonedx/cyclonedx-library package (with the SPDX licence-id and JSF schemas it refers to),
 * SPDX 2.3 from src/sbom/testdata (the spdx-spec repository's, CC-BY-3.0; no package ships it).
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { Ajv } from "ajv";
import formats from "ajv-formats";

// a CommonJS module: its default export arrives as the namespace under NodeNext
type FormatsPlugin = (ajv: Ajv) => Ajv;
const addFormats = ((formats as unknown as { default?: FormatsPlugin }).default ?? formats) as FormatsPlugin;

const require = createRequire(import.meta.url);
const cdxDir = join(dirname(require.resolve("@cyclonedx/cyclonedx-library/package.json")), "res/schema");
const json = (path: string) => JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;

export type Validate = (doc: unknown) => string[];

function compile(schema: Record<string, unknown>, extra: Record<string, unknown>[] = []): Validate {
  // strict off: the official schemas use keywords (e.g. meta:enum) ajv does not know
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  for (const s of extra) ajv.addSchema(s);
  const validate = ajv.compile(schema);
  return (doc) =>
    validate(doc) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message}`);
}

export function cycloneDx16(): Validate {
  const spdx = json(join(cdxDir, "spdx.SNAPSHOT.schema.json"));
  const jsf = json(join(cdxDir, "jsf-0.82.SNAPSHOT.schema.json"));
  return compile(json(join(cdxDir, "bom-1.6.SNAPSHOT.schema.json")), [
    { ...spdx, $id: "http://cyclonedx.org/schema/spdx.SNAPSHOT.schema.json" },
    { ...jsf, $id: "http://cyclonedx.org/schema/jsf-0.82.SNAPSHOT.schema.json" },
  ]);
}

export function spdx23(): Validate {
  return compile(json(join(import.meta.dirname, "../../src/sbom/testdata/spdx-2.3.schema.json")));
}
