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
state (artifacts, run records, candidates) and the store (the control plane's database) are, where
the advisory sources' data is, when \`compat watch\` runs and what it does about new findings, and
the notification channels.

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
advisories:
  maxAgeDays: 7                   # older data is reported as stale
  glsa: {dir: /srv/glsa}          # default: each layer's own metadata/glsa
  debianSecurity: {tracker: /srv/debian-security-tracker.json}   # the index is fetched with apt
  gentooGit: {repository: /srv/gentoo}                            # a gentoo.git checkout
watch:
  schedule: "0 6 * * *"           # every day at 06:00 (cron, croner's syntax)
  timezone: Europe/Amsterdam
  autoUpdate: {policy: propose, minSeverity: high}
notifications:
  channels:
    security:
      type: slack
      url: {env: COMPAT_SLACK_WEBHOOK}      # a secret: never written here
      events: [findings, source-problem]
    dashboard:
      type: webhook
      url: {file: /etc/compat/dashboard-url}
      secret: {file: /etc/compat/dashboard-hmac-key}   # signs X-Compat-Signature-256
\`\`\`

## Secrets

Webhook URLs (a Slack or Mattermost incoming webhook's URL is all it takes to post) and HMAC keys
are never written in the site config: a channel names an environment variable (\`{env: VAR}\`) or a
file (\`{file: PATH}\`, its first line; keep it mode 0600). compat reads them when it sends and
never prints them: messages name the channel, the variable or the file.

## Notification channels

Each entry of \`notifications.channels\` is one of:

| \`type\` | fields | what is POSTed |
|---|---|---|
| \`slack\` | \`url\` (secret) | a Slack incoming-webhook message: \`{text, blocks}\` (a header and mrkdwn sections) |
| \`mattermost\` | \`url\` (secret), \`channel\`, \`username\` | a Mattermost incoming-webhook message: \`{text}\` in Markdown, \`channel\` and \`username\` when given |
| \`webhook\` | \`url\` (secret), \`secret\` (the HMAC key, a secret) | the event as JSON, signed: \`X-Compat-Signature-256: sha256=<hex HMAC-SHA256 of the body>\`, with \`X-Compat-Event\` and \`X-Compat-Delivery\` |

and all take \`events\` (default all: \`findings\`, \`source-problem\`, \`update-proposed\`,
\`candidate-ready\`, \`gate-failed\`, \`publication\`) and \`minSeverity\` (default \`low\`: findings
below it are left out of this channel's messages). A watch sends one \`findings\` message per layer with
new findings (never one per CVE), a \`source-problem\` message when a source's data goes missing or
stale and when it recovers (once, not every run), and \`update-proposed\` under the \`propose\` policy.
Messages go through an outbox in the store: a channel that fails is tried \`retry.attempts\` times with
doubling waits, then left for the next run (up to \`retry.runs\` runs); a failing channel never stops a
watch.
`;

export function renderSiteConfigReference(): string {
  return renderReference(siteConfigSchema, INTRO);
}
