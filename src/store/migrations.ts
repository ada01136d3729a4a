/**
 * The store's versioned migrations, in code, applied in name order when a store is opened (Kysely's
 * Migrator records them in `kysely_migration`). Never edit a migration that has shipped: add the
 * next one. Each is written once with Kysely's schema builder; the backend supplies the one column
 * type that differs (the auto-increment key).
 */
import { type Kysely, type Migration, sql } from "kysely";
import type { Backend } from "./backend.js";

type Db = Kysely<unknown>;

export function migrations(backend: Backend): Record<string, Migration> {
  return {
    "0001-control-plane": { up: (db) => controlPlane(db, backend) },
    "0002-watch": { up: (db) => watch(db, backend) },
    "0003-accounts": { up: (db) => accounts(db, backend) },
    "0004-serve-reads": { up: (db) => serveReads(db) },
  };
}

/** Names of the migrations this program knows, in order. */
export function migrationNames(backend: Backend): string[] {
  return Object.keys(migrations(backend)).sort();
}

async function controlPlane(db: Db, backend: Backend): Promise<void> {
  const ts = "text";
  await db.schema
    .createTable("layers")
    .addColumn("name", "text", (c) => c.primaryKey())
    .addColumn("spec_path", "text", (c) => c.notNull())
    .addColumn("spec_sha256", "text", (c) => c.notNull())
    .addColumn("flavor", "text", (c) => c.notNull())
    .addColumn("stack", "text", (c) => c.notNull())
    .addColumn("version", "text", (c) => c.notNull())
    .addColumn("arches", "text", (c) => c.notNull())
    .addColumn("created_at", ts, (c) => c.notNull())
    .addColumn("updated_at", ts, (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("runs")
    .addColumn("id", "integer", backend.idColumn)
    .addColumn("kind", "text", (c) => c.notNull())
    .addColumn("layer", "text")
    .addColumn("arch", "text")
    .addColumn("state", "text", (c) =>
      c.notNull().check(inList("state", ["running", "succeeded", "failed", "interrupted"])),
    )
    .addColumn("started_at", ts, (c) => c.notNull())
    .addColumn("ended_at", ts)
    .addColumn("host", "text", (c) => c.notNull())
    .addColumn("pid", "integer", (c) => c.notNull())
    .addColumn("pid_start", "text")
    .addColumn("log_path", "text")
    .addColumn("exit_code", "integer")
    .addColumn("detail", "text")
    .execute();
  await db.schema.createIndex("runs_state").on("runs").columns(["state", "host"]).execute();
  await db.schema.createIndex("runs_layer").on("runs").columns(["layer", "arch", "started_at"]).execute();

  await db.schema
    .createTable("artifacts")
    .addColumn("sha256", "text", (c) => c.primaryKey())
    .addColumn("kind", "text", (c) => c.notNull().check(inList("kind", ["full", "delta"])))
    .addColumn("base_sha256", "text")
    .addColumn("path", "text", (c) => c.notNull())
    .addColumn("size", "bigint", (c) => c.notNull())
    .addColumn("manifest", "text", (c) => c.notNull())
    .addColumn("manifest_sha256", "text", (c) => c.notNull())
    .addColumn("layer", "text")
    .addColumn("arch", "text")
    .addColumn("created_at", ts, (c) => c.notNull())
    .execute();
  await db.schema.createIndex("artifacts_layer").on("artifacts").columns(["layer", "arch"]).execute();

  await db.schema
    .createTable("publications")
    .addColumn("id", "integer", backend.idColumn)
    .addColumn("target", "text", (c) => c.notNull())
    .addColumn("layer", "text", (c) => c.notNull())
    .addColumn("action", "text", (c) => c.notNull().check(inList("action", ["publish", "rollback"])))
    .addColumn("kind", "text")
    .addColumn("sha256", "text")
    .addColumn("previous_sha256", "text")
    .addColumn("artifact", "text")
    .addColumn("backup", "text")
    .addColumn("candidate_id", "integer")
    .addColumn("user", "text", (c) => c.notNull())
    .addColumn("host", "text", (c) => c.notNull())
    .addColumn("at", ts, (c) => c.notNull())
    .addColumn("detail", "text")
    .addColumn("journal_id", "text", (c) => c.unique())
    .execute();
  await db.schema
    .createIndex("publications_layer")
    .on("publications")
    .columns(["target", "layer", "id"])
    .execute();

  await db.schema
    .createTable("candidates")
    .addColumn("id", "integer", backend.idColumn)
    .addColumn("layer", "text", (c) => c.notNull().references("layers.name"))
    .addColumn("arch", "text", (c) => c.notNull())
    .addColumn("target", "text", (c) => c.notNull())
    .addColumn("base_publication_id", "integer", (c) => c.references("publications.id"))
    .addColumn("base_sha256", "text")
    // the states as this migration knew them (a migration never changes: candidate-states.ts may grow)
    .addColumn("state", "text", (c) =>
      c
        .notNull()
        .check(
          inList("state", [
            "building",
            "gating",
            "ready",
            "approved",
            "published",
            "failed",
            "rejected",
            "superseded",
          ]),
        ),
    )
    .addColumn("full_sha256", "text", (c) => c.references("artifacts.sha256"))
    .addColumn("delta_sha256", "text", (c) => c.references("artifacts.sha256"))
    .addColumn("package_diff", "text")
    .addColumn("reason", "text")
    .addColumn("requested_by", "text", (c) => c.notNull())
    .addColumn("run_id", "integer", (c) => c.references("runs.id"))
    .addColumn("created_at", ts, (c) => c.notNull())
    .addColumn("updated_at", ts, (c) => c.notNull())
    .execute();
  await db.schema.createIndex("candidates_state").on("candidates").columns(["state", "updated_at"]).execute();
  await db.schema
    .createIndex("candidates_layer")
    .on("candidates")
    .columns(["layer", "arch", "target", "state"])
    .execute();

  await db.schema
    .createTable("gates")
    .addColumn("id", "integer", backend.idColumn)
    .addColumn("candidate_id", "integer", (c) => c.notNull().references("candidates.id"))
    .addColumn("gate", "text", (c) => c.notNull())
    .addColumn("state", "text", (c) =>
      c.notNull().check(inList("state", ["running", "passed", "failed", "error"])),
    )
    .addColumn("attempt", "integer", (c) => c.notNull())
    .addColumn("report", "text")
    .addColumn("report_sha256", "text")
    .addColumn("run_id", "integer", (c) => c.references("runs.id"))
    .addColumn("started_at", ts, (c) => c.notNull())
    .addColumn("ended_at", ts)
    .addUniqueConstraint("gates_candidate_gate", ["candidate_id", "gate"])
    .execute();

  await db.schema
    .createTable("approvals")
    .addColumn("id", "integer", backend.idColumn)
    .addColumn("candidate_id", "integer", (c) => c.notNull().references("candidates.id"))
    .addColumn("verdict", "text", (c) => c.notNull().check(inList("verdict", ["approve", "reject"])))
    .addColumn("artifact_sha256", "text", (c) => c.notNull())
    .addColumn("manifest_sha256", "text", (c) => c.notNull())
    .addColumn("gates_digest", "text", (c) => c.notNull())
    .addColumn("approver", "text", (c) => c.notNull())
    .addColumn("key_id", "text")
    .addColumn("signature", "text")
    .addColumn("reason", "text")
    .addColumn("at", ts, (c) => c.notNull())
    .addColumn("voided_at", ts)
    .addColumn("voided_by", "text")
    .addColumn("void_reason", "text")
    .execute();
  await db.schema
    .createIndex("approvals_candidate")
    .on("approvals")
    .columns(["candidate_id", "voided_at"])
    .execute();

  await db.schema
    .createTable("findings")
    .addColumn("id", "integer", backend.idColumn)
    .addColumn("target", "text", (c) => c.notNull())
    .addColumn("layer", "text", (c) => c.notNull())
    .addColumn("arch", "text", (c) => c.notNull())
    .addColumn("source", "text", (c) => c.notNull())
    .addColumn("advisory_id", "text", (c) => c.notNull())
    .addColumn("package", "text", (c) => c.notNull())
    .addColumn("installed", "text", (c) => c.notNull())
    .addColumn("slot", "text")
    .addColumn("fix", "text")
    .addColumn("cves", "text", (c) => c.notNull())
    .addColumn("severity", "text", (c) => c.notNull())
    .addColumn("title", "text")
    .addColumn("first_seen", ts, (c) => c.notNull())
    .addColumn("last_seen", ts, (c) => c.notNull())
    .addColumn("resolved_at", ts)
    .addColumn("resolved_by_publication_id", "integer", (c) => c.references("publications.id"))
    .addUniqueConstraint("findings_identity", [
      "target",
      "layer",
      "arch",
      "source",
      "advisory_id",
      "installed",
    ])
    .execute();
  // the dashboard's questions: open findings by layer and severity, and by severity across layers
  await db.schema
    .createIndex("findings_layer_open")
    .on("findings")
    .columns(["layer", "resolved_at", "severity"])
    .execute();
  await db.schema
    .createIndex("findings_severity_open")
    .on("findings")
    .columns(["resolved_at", "severity"])
    .execute();

  await db.schema
    .createTable("leases")
    .addColumn("name", "text", (c) => c.primaryKey())
    .addColumn("token", "text", (c) => c.notNull())
    .addColumn("owner", "text", (c) => c.notNull())
    .addColumn("host", "text", (c) => c.notNull())
    .addColumn("pid", "integer", (c) => c.notNull())
    .addColumn("pid_start", "text")
    .addColumn("purpose", "text", (c) => c.notNull())
    .addColumn("acquired_at", ts, (c) => c.notNull())
    .addColumn("expires_at", ts, (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("audit_log")
    .addColumn("seq", "integer", (c) => c.primaryKey())
    .addColumn("at", ts, (c) => c.notNull())
    .addColumn("actor", "text", (c) => c.notNull())
    .addColumn("action", "text", (c) => c.notNull())
    .addColumn("subject", "text", (c) => c.notNull())
    .addColumn("detail", "text", (c) => c.notNull())
    // unique: two rows naming the same predecessor would be a fork of the chain
    .addColumn("prev_sha256", "text", (c) => c.notNull().unique())
    .addColumn("sha256", "text", (c) => c.notNull().unique())
    .execute();
  await db.schema.createIndex("audit_log_subject").on("audit_log").columns(["subject", "seq"]).execute();
}

/**
 * The watch: a finding's advisory URL; each source's last verdict per published layer (so a source
 * that turns stale or loses its data is told once, and its recovery too); and the notification
 * outbox (a message a channel did not take is sent again by the next run).
 */
async function watch(db: Db, backend: Backend): Promise<void> {
  const ts = "text";
  await db.schema.alterTable("findings").addColumn("url", "text").execute();

  await db.schema
    .createTable("source_checks")
    .addColumn("id", "integer", backend.idColumn)
    .addColumn("target", "text", (c) => c.notNull())
    .addColumn("layer", "text", (c) => c.notNull())
    .addColumn("arch", "text", (c) => c.notNull())
    .addColumn("source", "text", (c) => c.notNull())
    .addColumn("status", "text", (c) =>
      c.notNull().check(inList("status", ["ok", "stale", "no-data", "failed"])),
    )
    .addColumn("reason", "text")
    .addColumn("as_of", ts)
    .addColumn("since", ts, (c) => c.notNull())
    .addColumn("checked_at", ts, (c) => c.notNull())
    .addUniqueConstraint("source_checks_scope", ["target", "layer", "arch", "source"])
    .execute();

  await db.schema
    .createTable("notifications")
    .addColumn("id", "integer", backend.idColumn)
    .addColumn("channel", "text", (c) => c.notNull())
    .addColumn("event", "text", (c) => c.notNull())
    .addColumn("subject", "text", (c) => c.notNull())
    .addColumn("payload", "text", (c) => c.notNull())
    .addColumn("created_at", ts, (c) => c.notNull())
    .addColumn("attempts", "integer", (c) => c.notNull())
    .addColumn("last_attempt_at", ts)
    .addColumn("last_error", "text")
    .addColumn("delivered_at", ts)
    .execute();
  await db.schema
    .createIndex("notifications_pending")
    .on("notifications")
    .columns(["delivered_at", "channel", "id"])
    .execute();
}

/**
 * Accounts of `compat serve` (0003; 0002 is the watch's): users with their roles, API tokens and
 * browser sessions. Secrets are never stored: a password as its scrypt hash, a token and a session
 * id as their sha256 (each is 32 random bytes, so a fast hash is enough to make a leaked table
 * useless). And an index for the dashboard.
 */
async function accounts(db: Db, backend: Backend): Promise<void> {
  const ts = "text";
  await db.schema
    .createTable("users")
    .addColumn("name", "text", (c) => c.primaryKey())
    .addColumn("roles", "text", (c) => c.notNull())
    .addColumn("password_hash", "text")
    .addColumn("approver_key", "text")
    .addColumn("created_at", ts, (c) => c.notNull())
    .addColumn("created_by", "text", (c) => c.notNull())
    .addColumn("disabled_at", ts)
    .execute();

  await db.schema
    .createTable("api_tokens")
    .addColumn("id", "integer", backend.idColumn)
    .addColumn("user_name", "text", (c) => c.notNull().references("users.name"))
    .addColumn("token_sha256", "text", (c) => c.notNull().unique())
    .addColumn("label", "text")
    .addColumn("created_at", ts, (c) => c.notNull())
    .addColumn("expires_at", ts)
    .addColumn("revoked_at", ts)
    .addColumn("last_used_at", ts)
    .execute();
  await db.schema.createIndex("api_tokens_user").on("api_tokens").columns(["user_name"]).execute();

  await db.schema
    .createTable("sessions")
    .addColumn("id_sha256", "text", (c) => c.primaryKey())
    .addColumn("user_name", "text", (c) => c.notNull().references("users.name"))
    .addColumn("csrf_token", "text", (c) => c.notNull())
    .addColumn("created_at", ts, (c) => c.notNull())
    .addColumn("expires_at", ts, (c) => c.notNull())
    .addColumn("revoked_at", ts)
    .execute();
  await db.schema.createIndex("sessions_user").on("sessions").columns(["user_name"]).execute();

  // the dashboard's cells: open findings by layer, arch and severity, answered from the index alone
  await db.schema
    .createIndex("findings_open_cells")
    .on("findings")
    .columns(["resolved_at", "layer", "arch", "severity"])
    .execute();
}

/**
 * For the reads of `compat serve` (0004), each measured on the bench/serve store (100,000
 * findings). Open findings counted per observation scope and severity, kept by observeFindings
 * (the dashboard sums a few thousand rows instead of counting every open finding on each change
 * of the store), filled here from the findings there are. Indexes: a layer's open findings of one
 * severity, newest first, read in index order and stopped at the limit (instead of sorting every
 * open one); the open ones of all layers likewise; a layer's findings by the day first seen from
 * the index alone; a candidate's publications without a scan. findings_layer_open is a prefix of
 * the first, so it goes.
 */
async function serveReads(db: Db): Promise<void> {
  await db.schema
    .createTable("finding_counts")
    .addColumn("target", "text", (c) => c.notNull())
    .addColumn("layer", "text", (c) => c.notNull())
    .addColumn("arch", "text", (c) => c.notNull())
    .addColumn("source", "text", (c) => c.notNull())
    .addColumn("severity", "text", (c) => c.notNull())
    .addColumn("open", "integer", (c) => c.notNull())
    .addPrimaryKeyConstraint("finding_counts_key", ["target", "layer", "arch", "source", "severity"])
    .execute();
  await sql`insert into finding_counts (target, layer, arch, source, severity, "open")
    select target, layer, arch, source, severity, count(*) from findings where resolved_at is null
    group by target, layer, arch, source, severity`.execute(db);
  await db.schema
    .createIndex("findings_layer_recent")
    .on("findings")
    .columns(["layer", "resolved_at", "severity", "first_seen", "id"])
    .execute();
  await db.schema.dropIndex("findings_layer_open").execute();
  await db.schema
    .createIndex("findings_open_recent")
    .on("findings")
    .columns(["resolved_at", "first_seen", "id"])
    .execute();
  await db.schema
    .createIndex("findings_layer_seen")
    .on("findings")
    .columns(["layer", "first_seen"])
    .execute();
  await db.schema
    .createIndex("publications_candidate")
    .on("publications")
    .columns(["candidate_id"])
    .execute();
}

/** `column in ('a', 'b')` as a CHECK constraint (the values are ours, never user input). */
function inList(column: string, values: readonly string[]) {
  return sql<boolean>`${sql.ref(column)} in (${sql.join(values.map((v) => sql.lit(v)))})`;
}
