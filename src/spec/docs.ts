/**
 * docs/spec.md, generated from the schema's descriptions (`npm run docs:spec`); a test fails when
 * the committed file differs from what this renders, so the reference cannot go stale.
 */
import { jsonSchemaOf, renderReference } from "../config/reference.js";
import { layerSpecSchema } from "./schema.js";

/** The spec's JSON Schema (input side: fields with defaults are optional), e.g. for editors. */
export function specJsonSchema(): Record<string, unknown> {
  return jsonSchemaOf(layerSpecSchema);
}

const INTRO = `# Layer spec reference

<!-- Generated from src/spec/schema.ts by \`npm run docs:spec\`. Do not edit: change the schema's descriptions. -->

A layer spec is one YAML file that describes a compatibility layer completely: the CVMFS
repository, the stack and version, the CPU families, the flavor and everything that goes into the
layer. \`compat plan SPEC --arch A\` shows what a build of it does and writes; \`compat import-ansible\`
makes one from EESSI's Ansible variables. The JSON Schema of the same fields is
[spec.schema.json](spec.schema.json) (for editors: \`# yaml-language-server: $schema=…\`).

Unknown keys are errors ("did you mean" for near misses); every problem is reported as
\`file:line:col field: message\` and the command exits with code 2.

## Placeholders

These fields may use placeholders, expanded per arch: \`prefix\`, \`gentoo.sets\`, \`gentoo.trustedDirs\`,
\`hostSymlinks\` (\`src\` and \`dest\`) and \`variantSymlinks\` (\`defaultsDir\`, \`variablePrefix\`). File
contents (\`gentoo.makeConf\`, \`gentoo.packageEnvFiles\`, \`gentoo.package*\`) are written as they are.

| placeholder | value | example |
|---|---|---|
| \`{repository}\` | \`repository\` | \`software.eessi.io\` |
| \`{stack}\` | \`stack\` | \`eessi\` |
| \`{version}\` | \`version\` | \`2026.06\` |
| \`{versionTag}\` | the version without dots | \`202606\` |
| \`{os}\` | \`os\` | \`linux\` |
| \`{arch}\` | the arch being built | \`x86_64\` |
| \`{prefix}\` | the resolved \`prefix\` (EPREFIX) | \`/cvmfs/software.eessi.io/versions/2026.06/compat/linux/x86_64\` |

## Example

\`\`\`yaml
repository: software.example.org
stack: dev
version: "2025.06"
arches: [x86_64, aarch64]
flavor: debian
debian:
  suite: bookworm
  packages: [bash, coreutils, python3]
locales: [en_US.UTF-8 UTF-8]
hostSymlinks: [/etc/passwd, /etc/group, /etc/resolv.conf]
variantSymlinks: {enabled: false}
\`\`\`

See [examples/dev.yaml](../examples/dev.yaml) and [examples/eessi-2025.06.yaml](../examples/eessi-2025.06.yaml).
`;

export function renderSpecReference(): string {
  return renderReference(layerSpecSchema, INTRO);
}
