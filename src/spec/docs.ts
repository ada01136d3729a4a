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
\`file:line:col field: message\` and the command exits with code 2. A spec file is a regular file of at
most 4 MiB of UTF-8 text without NUL bytes, and its YAML aliases expand to at most 100 nodes (an alias
bomb is refused, exit 2).

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

## Values that become paths

A spec may come from a pull request or an imported Ansible vars file, so every value that becomes a
path is proven to stay inside the directory it belongs to, when the spec is loaded (\`compat plan\`
already refuses it, exit 2, \`file:line:col field: message\`), and again, after placeholders are
expanded, where the build writes (src/paths/). No value may hold a NUL byte; \`..\` is refused
everywhere, never read away.

| field | belongs to | rule |
|---|---|---|
| \`prefix\` | \`/cvmfs/{repository}/\` | a path below it, at least one component, normalised (no \`//\`, \`.\`, trailing \`/\`), no \`..\` |
| \`root\` | the working directory | relative and inside it (a directory elsewhere: \`--root DIR\`, which is the operator's choice) |
| \`hostSymlinks[]\` (a string) | EPREFIX | an absolute, normalised host path below \`/\` (not \`/\` itself) |
| \`hostSymlinks[].dest\` | EPREFIX | relative (\`etc/hosts\`) or under the prefix (\`{prefix}/etc/hosts\`), not EPREFIX itself |
| \`hostSymlinks\` (all) | EPREFIX | no link inside another link, none twice, none at or above a path the build writes (its Portage files, locale.gen, the sets' and overlays' links and checkouts, \`startprefix\`, \`reprod/\`) |
| \`gentoo.packageEnvFiles\` keys | \`etc/portage/\` | \`package.env\`, or a normalised path below \`env/\` |
| \`gentoo.makeConf\` keys | \`etc/portage/make.conf/\` | one file name (not \`.\` or \`..\`) |
| \`gentoo.sets[]\` | \`etc/portage/sets/\` | one name, also after expanding placeholders (so no \`{prefix}\`) |
| \`gentoo.overlays[].name\`, \`.portageConfig[]\` | \`var/db/repos/\`, \`etc/portage/\` | one name |
| \`gentoo.bootstrap.script.path\` | the spec's directory | relative and inside it; a symlink there that leads out is not followed |
| \`gentoo.trustedDirs[]\` | (glibc's search path) | absolute, no \`..\`, no blank, quote, \`$\`, \`\\\` or \`:\` |
| \`locales[]\` | \`usr/lib/locale/\` | \`<locale> <charmap>\`, each one name |
| \`variantSymlinks.defaultsDir\`, \`.hostDefaults\` | (link targets) | absolute without \`..\`; keys normalised relative paths |
| \`checks.requiredTools[]\` | the layer's PATH | one program name |

While a layer is built, compat writes into it from outside the sandbox (as root for the debian flavor). Each
such write resolves its path inside the prefix being built the way the layer sees itself: a symlink that stays
inside (\`lib64 -> usr/lib64\`, or an absolute link to the prefix path) is followed, one that leads out of it (a
host link such as \`etc -> /etc\`) stops the build before anything is written there (exit 2).

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
