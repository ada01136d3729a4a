/**
 * The store's tables as Kysely sees them: one interface per table, columns as stored. Timestamps
 * are ISO 8601 strings in UTC (`2026-06-01T12:00:00.000Z`), which sort as text the same on both
 * backends; JSON columns are text holding canonical JSON, parsed by the table's module. The
 * migrations in migrations.ts create exactly these.
 */
import type { Generated } from "kysely";

/** ISO 8601 in UTC, e.g. `2026-06-01T12:00:00.000Z`. */
export type Timestamp = string;
/** Text holding a JSON document. */
export type JsonText = string;

export interface Database {
  layers: LayersTable;
  runs: RunsTable;
  artifacts: ArtifactsTable;
  candidates: CandidatesTable;
  gates: GatesTable;
  approvals: ApprovalsTable;
  publications: PublicationsTable;
  findings: FindingsTable;
  finding_counts: FindingCountsTable;
  leases: LeasesTable;
  audit_log: AuditLogTable;
  source_checks: SourceChecksTable;
  notifications: NotificationsTable;
  users: UsersTable;
  api_tokens: ApiTokensTable;
  sessions: SessionsTable;
}

/** A layer of the site config, as last registered. */
export interface LayersTable {
  /** The site config's name of the layer (`layers.<name>`). */
  name: string;
  spec_path: string;
  /** specHash of the spec when registered. */
  spec_sha256: string;
  flavor: string;
  stack: string;
  version: string;
  /** JSON list of the arches kept up to date. */
  arches: JsonText;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface RunsTable {
  id: Generated<number>;
  /** What ran: build, update, gate, check, audit, pack, publish, watch … */
  kind: string;
  layer: string | null;
  arch: string | null;
  /** running → succeeded | failed | interrupted */
  state: string;
  started_at: Timestamp;
  ended_at: Timestamp | null;
  host: string;
  pid: number;
  /** The kernel's start time of `pid`, so a reused pid is not taken for the run. */
  pid_start: string | null;
  log_path: string | null;
  exit_code: number | null;
  detail: JsonText | null;
}

export interface ArtifactsTable {
  sha256: string;
  /** full | delta */
  kind: string;
  /** For a delta: the sha256 of the artifact it applies to. */
  base_sha256: string | null;
  path: string;
  /** Bytes (bigint: artifacts exceed 2 GiB). */
  size: number;
  manifest: JsonText;
  manifest_sha256: string;
  layer: string | null;
  arch: string | null;
  created_at: Timestamp;
}

export interface CandidatesTable {
  id: Generated<number>;
  layer: string;
  arch: string;
  /** The site config's name of the target this candidate updates. */
  target: string;
  /** The publication it updates, when the target held one. */
  base_publication_id: number | null;
  base_sha256: string | null;
  /** building → gating → ready → approved → published, or failed | rejected | superseded */
  state: string;
  full_sha256: string | null;
  delta_sha256: string | null;
  /** JSON: added, removed, upgraded, downgraded packages. */
  package_diff: JsonText | null;
  reason: string | null;
  requested_by: string;
  run_id: number | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface GatesTable {
  id: Generated<number>;
  candidate_id: number;
  /** The gate's id: checks, audit, delta, impact … */
  gate: string;
  /** running → passed | failed | error */
  state: string;
  /** 1 for the first run; a re-run counts up (and voids the candidate's approvals). */
  attempt: number;
  report: JsonText | null;
  /** sha256 of the report's canonical JSON. */
  report_sha256: string | null;
  run_id: number | null;
  started_at: Timestamp;
  ended_at: Timestamp | null;
}

export interface ApprovalsTable {
  id: Generated<number>;
  candidate_id: number;
  /** approve | reject */
  verdict: string;
  artifact_sha256: string;
  manifest_sha256: string;
  gates_digest: string;
  approver: string;
  /** Fingerprint (sha256 of the SPKI DER) of the key that signed it. */
  key_id: string | null;
  /** base64 ed25519 signature over approvalSigningPayload. */
  signature: string | null;
  reason: string | null;
  at: Timestamp;
  voided_at: Timestamp | null;
  voided_by: string | null;
  void_reason: string | null;
}

export interface PublicationsTable {
  id: Generated<number>;
  /** The site config's target name, or the target as given (`local:/srv/repo`). */
  target: string;
  /** The layer's directory in the repository, e.g. `2025.06/compat/linux/x86_64`. */
  layer: string;
  /** publish | rollback */
  action: string;
  /** full | delta, for a publish */
  kind: string | null;
  /** sha256 of the artifact the layer now comes from. */
  sha256: string | null;
  previous_sha256: string | null;
  /** The artifact's file name or path. */
  artifact: string | null;
  /** Where the replaced layer was kept, when it was kept. */
  backup: string | null;
  candidate_id: number | null;
  user: string;
  host: string;
  at: Timestamp;
  detail: string | null;
  /** The publisher's journal id: recording the same publication twice keeps one row. */
  journal_id: string | null;
}

export interface FindingsTable {
  id: Generated<number>;
  target: string;
  layer: string;
  arch: string;
  /** The advisory source: glsa, debian-security, gentoo-git … */
  source: string;
  advisory_id: string;
  /** The package name as its ecosystem spells it (`dev-libs/openssl`). */
  package: string;
  /** The installed package in full (`dev-libs/openssl-1.1.1w`). */
  installed: string;
  slot: string | null;
  /** The fixed version or the smallest fixing atom. */
  fix: string | null;
  /** JSON list of CVE ids. */
  cves: JsonText;
  severity: string;
  title: string | null;
  first_seen: Timestamp;
  last_seen: Timestamp;
  resolved_at: Timestamp | null;
  resolved_by_publication_id: number | null;
  /** The advisory's page (0002). */
  url: string | null;
}

/**
 * Open findings counted per scope of an observation and severity (0004): what the dashboard shows,
 * kept by observeFindings in the transaction that changes the scope's findings (the only writer of
 * findings), so the dashboard reads a few thousand rows, not every open finding.
 */
export interface FindingCountsTable {
  target: string;
  layer: string;
  arch: string;
  source: string;
  severity: string;
  open: number;
}

/** An advisory source's last verdict on one published layer (0002). */
export interface SourceChecksTable {
  id: Generated<number>;
  target: string;
  layer: string;
  arch: string;
  source: string;
  /** ok, stale, no-data or failed. */
  status: string;
  reason: string | null;
  /** When the source's data was last updated, as far as it says. */
  as_of: Timestamp | null;
  /** When the status became what it is. */
  since: Timestamp;
  checked_at: Timestamp;
}

/** The notification outbox (0002): one message for one channel, until the channel took it. */
export interface NotificationsTable {
  id: Generated<number>;
  channel: string;
  /** findings, source-problem, update-proposed, candidate-ready, gate-failed, publication. */
  event: string;
  /** What it is about, e.g. `staging/dev-2025.06/x86_64`. */
  subject: string;
  /** The event as JSON (no secrets: channel URLs and keys are resolved when sending). */
  payload: JsonText;
  created_at: Timestamp;
  attempts: number;
  last_attempt_at: Timestamp | null;
  last_error: string | null;
  delivered_at: Timestamp | null;
}

/** A job or resource held by one process at a time, until it releases it or the lease expires. */
export interface LeasesTable {
  name: string;
  /** Random: only the holder knows it, so only the holder renews or releases. */
  token: string;
  owner: string;
  host: string;
  pid: number;
  pid_start: string | null;
  purpose: string;
  acquired_at: Timestamp;
  expires_at: Timestamp;
}

/** Append-only and hash-chained: see audit.ts. */
export interface AuditLogTable {
  seq: number;
  at: Timestamp;
  actor: string;
  action: string;
  /** What the action was done to, e.g. `candidate:12`, `target:production`. */
  subject: string;
  /** Canonical JSON. */
  detail: JsonText;
  prev_sha256: string;
  sha256: string;
}

/** An account of `compat serve` (0003). */
export interface UsersTable {
  name: string;
  /** JSON list of roles: viewer, maintainer, approver, admin. */
  roles: JsonText;
  /** scrypt hash (`scrypt$N$r$p$salt$hash`, base64), or null: the user logs in with a token only. */
  password_hash: string | null;
  /** Path of the approver's ed25519 private key the server signs this user's verdicts with. */
  approver_key: string | null;
  created_at: Timestamp;
  created_by: string;
  /** Set when the user was revoked: no token or session of theirs works any more. */
  disabled_at: Timestamp | null;
}

/** An API token (0003): only its sha256 is kept; the token itself is shown once. */
export interface ApiTokensTable {
  id: Generated<number>;
  user_name: string;
  token_sha256: string;
  label: string | null;
  created_at: Timestamp;
  expires_at: Timestamp | null;
  revoked_at: Timestamp | null;
  last_used_at: Timestamp | null;
}

/** A browser session (0003), by the sha256 of the id its cookie holds. */
export interface SessionsTable {
  id_sha256: string;
  user_name: string;
  /** The CSRF token every form of this session carries. */
  csrf_token: string;
  created_at: Timestamp;
  expires_at: Timestamp;
  revoked_at: Timestamp | null;
}
