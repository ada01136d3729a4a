/** How people see a candidate: its state, package diff, artifacts, gates and approvals. Loaded by actions only. */
import type { PackageDiff } from "../artifacts/diff.js";
import type { ApprovalRecord } from "../store/approvals.js";
import type { ArtifactRecord } from "../store/artifacts.js";
import type { Candidate } from "../store/candidates.js";
import type { GateResult } from "../store/gates.js";
import { renderTable, style } from "../text.js";
import type { PolicyVerdict } from "../update/approval-policy.js";
import { printable } from "./log.js";
import { shown } from "./output.js";

const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
const short = (sha: string | null | undefined) => (sha ? sha.slice(0, 16) : "-");

export function stateText(state: string): string {
  if (state === "ready" || state === "approved" || state === "published" || state === "passed")
    return style.green(state);
  if (state === "failed" || state === "error" || state === "rejected") return style.red(state);
  return style.yellow(state);
}

export function renderPackageDiff(d: PackageDiff | null, indent = "  "): string[] {
  if (!d) return [`${indent}packages  (not recorded)`];
  const lines = [
    `${indent}packages  ${d.upgraded.length} upgraded, ${d.added.length} added, ${d.removed.length} removed, ${d.downgraded.length} downgraded, ${d.unchanged} unchanged`,
  ];
  const rows: string[][] = [
    ...d.upgraded.map((c) => ["upgraded", c.name, c.from, c.to]),
    ...d.downgraded.map((c) => [style.yellow("downgraded"), c.name, c.from, c.to]),
    ...d.added.map((p) => ["added", p.arch ? `${p.name}:${p.arch}` : p.name, "", p.version]),
    ...d.removed.map((p) => ["removed", p.arch ? `${p.name}:${p.arch}` : p.name, p.version, ""]),
  ];
  if (rows.length > 0)
    lines.push(
      ...renderTable(
        ["", "package", "from", "to"],
        rows.map((r) => r.map(printable)),
      )
        .split("\n")
        .map((l) => `${indent}  ${l}`),
    );
  return lines;
}

export function renderArtifacts(
  full: ArtifactRecord | undefined,
  delta: ArtifactRecord | undefined,
): string[] {
  const lines: string[] = [];
  if (full)
    lines.push(`  full      ${shown(full.path)}`, `            ${mb(full.size)}  sha256 ${full.sha256}`);
  if (delta)
    lines.push(
      `  delta     ${shown(delta.path)}`,
      `            ${mb(delta.size)}${full ? ` (${((100 * delta.size) / full.size).toFixed(1)} % of the full artifact)` : ""}  sha256 ${delta.sha256}`,
    );
  return lines;
}

export function renderGates(gates: readonly GateResult[]): string[] {
  if (gates.length === 0) return ["  gates     none ran"];
  const summaryOf = (g: GateResult) => {
    const s = (g.report as { summary?: unknown } | null)?.summary;
    return typeof s === "string" ? s : "";
  };
  return [
    "  gates",
    ...renderTable(
      ["gate", "state", "attempt", "result"],
      gates.map((g) => [g.gate, stateText(g.state), String(g.attempt), printable(summaryOf(g))]),
    )
      .split("\n")
      .map((l) => `    ${l}`),
  ];
}

export function renderApprovals(
  approvals: readonly ApprovalRecord[],
  verdicts: readonly PolicyVerdict[],
): string[] {
  const lines: string[] = [];
  if (approvals.length > 0)
    lines.push(
      "  approvals",
      ...renderTable(
        ["#", "verdict", "approver", "when (UTC)", "artifact", "voided"],
        approvals.map((a) => [
          String(a.id),
          a.verdict,
          printable(a.approver),
          a.at.replace("T", " ").replace(/\.\d+Z$/, "Z"),
          short(a.artifactSha256),
          a.voidedAt ? printable(`${a.voidReason ?? "yes"}`) : "",
        ]),
      )
        .split("\n")
        .map((l) => `    ${l}`),
    );
  for (const v of verdicts) {
    const counted = v.counted.map((c) => c.approver);
    const have = counted.length ? ` (${counted.join(", ")})` : "";
    const needs =
      v.needed === 0
        ? "needs no approval"
        : `${Math.min(counted.length, v.needed)}/${v.needed} approval${v.needed === 1 ? "" : "s"}${have}`;
    lines.push(
      `  ${v.target.padEnd(10)} ${v.ok ? style.green("may be published") : style.yellow("not yet")}: ${needs}${v.rejectedBy.length ? `; rejected by ${v.rejectedBy.join(", ")}` : ""}`,
    );
    for (const r of v.refused)
      lines.push(
        `             approval ${r.approval} by ${printable(r.approver)} does not count: ${printable(r.reason)}`,
      );
  }
  return lines;
}

export function renderCandidateHead(c: Candidate): string {
  return `${style.bold(`candidate ${c.id}`)} of ${c.layer} ${c.arch} (updates ${c.target}${c.baseSha256 ? ` from ${short(c.baseSha256)}` : ", first build"}): ${stateText(c.state)}`;
}
