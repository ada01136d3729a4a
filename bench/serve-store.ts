/** The store bench/serve loads: 100 layers, 1,000 candidates with their gates, 100,000 findings. */
import { countOpenFindingsOf } from "../src/store/findings.js";
import type { Store } from "../src/store/store.js";

export const LAYERS = 100;
export const CANDIDATES_PER_LAYER = 10;
export const FINDINGS_PER_LAYER = 1000;
const SEVERITIES = ["critical", "high", "normal", "low"];

const hex = (n: number, c = "a") => n.toString(16).padStart(64, c);

/** The store the target names, filled in bulk (rows as compat writes them, many per statement). */
export async function populate(store: Store): Promise<number> {
  const now = new Date().toISOString();
  const db = store.db;
  let firstCandidate = 0;
  for (let l = 0; l < LAYERS; l++) {
    const name = `layer${l}`;
    const version = `20${String(10 + (l % 15))}.${String(1 + (l % 12)).padStart(2, "0")}-${l}`;
    await db
      .insertInto("layers")
      .values({
        name,
        spec_path: `/specs/${name}.yaml`,
        spec_sha256: hex(l),
        flavor: l % 2 ? "gentoo" : "debian",
        stack: "eessi",
        version,
        arches: JSON.stringify(["x86_64"]),
        created_at: now,
        updated_at: now,
      })
      .execute();
    for (const [kind, sha] of [["full", hex(l, "b")]] as const)
      await db
        .insertInto("artifacts")
        .values({
          sha256: sha,
          kind,
          base_sha256: null,
          path: `/artifacts/${name}.tar.zst`,
          size: 1e9,
          manifest: "{}",
          manifest_sha256: hex(l, "c"),
          layer: name,
          arch: "x86_64",
          created_at: now,
        })
        .execute();
    for (const target of ["staging", "production"])
      await db
        .insertInto("publications")
        .values({
          target,
          layer: `${version}/compat/linux/x86_64`,
          action: "publish",
          kind: "full",
          sha256: hex(l, "b"),
          previous_sha256: null,
          artifact: `/artifacts/${name}.tar.zst`,
          backup: null,
          candidate_id: null,
          user: "bench",
          host: "bench",
          at: now,
          detail: null,
          journal_id: null,
        })
        .execute();
    for (let c = 0; c < CANDIDATES_PER_LAYER; c++) {
      const row = await db
        .insertInto("candidates")
        .values({
          layer: name,
          arch: "x86_64",
          target: "staging",
          base_publication_id: null,
          base_sha256: hex(l, "b"),
          state: c === CANDIDATES_PER_LAYER - 1 ? "ready" : c % 3 ? "published" : "superseded",
          full_sha256: null,
          delta_sha256: null,
          package_diff: JSON.stringify({ upgraded: [{ name: "openssl", from: "3.0.11", to: "3.0.15" }] }),
          reason: "security",
          requested_by: "bench",
          run_id: null,
          created_at: now,
          updated_at: now,
        })
        .returning("id")
        .executeTakeFirstOrThrow();
      if (!firstCandidate) firstCandidate = row.id;
      await db
        .insertInto("gates")
        .values(
          ["checks", "audit", "impact", "delta"].map((gate) => ({
            candidate_id: row.id,
            gate,
            state: "passed",
            attempt: 1,
            report: JSON.stringify({ summary: `${gate} passed` }),
            report_sha256: hex(row.id, "d"),
            run_id: null,
            started_at: now,
            ended_at: now,
          })),
        )
        .execute();
    }
    const findings = Array.from({ length: FINDINGS_PER_LAYER }, (_, i) => ({
      target: i % 2 ? "staging" : "production",
      layer: name,
      arch: "x86_64",
      source: i % 3 ? "glsa" : "gentoo-git",
      advisory_id: `GLSA-2025${String(i).padStart(4, "0")}`,
      package: `dev-libs/pkg${i % 400}`,
      installed: `1.${i}`,
      slot: null,
      fix: `>=dev-libs/pkg${i % 400}-2`,
      cves: JSON.stringify([`CVE-2025-${10000 + i}`]),
      severity: SEVERITIES[i % 4]!,
      title: `pkg${i % 400}: several vulnerabilities`,
      first_seen: now,
      last_seen: now,
      resolved_at: i % 5 === 0 ? now : null,
      resolved_by_publication_id: null,
    }));
    for (let i = 0; i < findings.length; i += 250)
      await db
        .insertInto("findings")
        .values(findings.slice(i, i + 250))
        .execute();
  }
  // bulk rows behind observeFindings' back: the dashboard's counts are made as it would
  await countOpenFindingsOf(store);
  return firstCandidate;
}
