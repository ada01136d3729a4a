/**
 * docs/site-config.md, generated from the schema's descriptions (`npm run docs:site`); a test fails
 * when the committed file differs from what this renders, so the reference cannot go stale.
 */
import { jsonSchemaOf, renderReference } from "../config/reference.js";
import { siteConfigSchema } from "./schema.js";

/** The site config's JSON Schema (input side), e.g. for editors. */
export function siteConfigJsonSchema(): Record<string, unknown> {
  return jsonSchemaOf(siteConfigSchema);
}

const INTRO = `# Site config reference (\`compat.yaml\`)

<!-- Generated from src/site/schema.ts by \`npm run docs:site\`. Do not edit: change the schema's descriptions. -->

The site config says what one site runs compat over: the layers it keeps up to date, the targets
it publishes them to with each target's approval policy, the people who may approve, where the
state (artifacts, run records, candidates) and the store (the control plane's database) are.

Commands that use it take \`--config FILE\`. Without that option compat reads \`./compat.yaml\`
when there is one, and otherwise uses the embedded default: a \`./compat-state/\` directory in the
working directory holding the artifacts and a SQLite store (\`compat-state/compat.db\`), with no
layers, targets or approvers. Relative paths in a file are taken from the file's directory.

Unknown keys are errors ("did you mean" for near misses); every problem is reported as
\`file:line:col field: message\` and the command exits with code 2. Names of layers, targets and
approvers are one plain word (a letter or digit, then letters, digits, \`.\`, \`_\`, \`-\`), because
they become one component of paths under the state directory. The JSON Schema of the same fields
is [site-config.schema.json](site-config.schema.json).

## The store

| store | when | how |
|---|---|---|
| SQLite (default) | one machine | a file; created with its directory when missing; WAL mode, so readers never wait for a writer |
| PostgreSQL | several servers or build hosts share one state | \`store: postgres://USER@HOST[:PORT]/DB\`; the password from \`PGPASSWORD\` or \`~/.pgpass\`, as for psql |

Migrations are applied when a command opens the store. A store that cannot be opened (a corrupt
or unreadable file, a directory, PostgreSQL unreachable, a wrong password, an unknown scheme) is
an error naming it, without its password, and exit code 4.

## Example

\`\`\`yaml
state: /var/lib/compat            # default: compat-state beside this file
store: postgres://compat@db.example.org/compat
layers:
  eessi-2025.06:
    spec: specs/eessi-2025.06.yaml
    arches: [x86_64, aarch64]     # default: every arch of the spec
targets:
  staging:
    to: local:/srv/cvmfs-staging/software.eessi.io
    policy: {approvals: 1, requesterMayApprove: true}
  production:
    to: cvmfs:software.eessi.io@stratum0.example.org
    policy:
      approvals: 2
      requesterMayApprove: false
      approvers: [alice, bob, carol]
approvers:
  alice: {key: keys/alice.pub}    # from: compat keygen -o keys/alice
  bob: {key: keys/bob.pub}
  carol: {key: keys/carol.pub}
\`\`\`
`;

export function renderSiteConfigReference(): string {
  return renderReference(siteConfigSchema, INTRO);
}
