/** A candidate: its package diff, gate reports, artifacts, approvals, and the forms to act on it. */
import type { JsonValue } from "../../store/json.js";
import type { CandidateView } from "../read-model.js";
import { Badge, bytes, Csrf, can, Page, type PageContext, Sha, When } from "./layout.js";

interface PackageRef {
  name?: string;
  version?: string;
  arch?: string;
}
interface VersionChange {
  name?: string;
  from?: string;
  to?: string;
}

function asList<T>(v: JsonValue | undefined): T[] {
  return Array.isArray(v) ? (v as unknown as T[]) : [];
}

function PackageDiffView({ diff }: { diff: JsonValue | null }) {
  if (diff === null || typeof diff !== "object" || Array.isArray(diff))
    return <p class="muted">No package diff (the candidate has not been built).</p>;
  const added = asList<PackageRef>(diff.added);
  const removed = asList<PackageRef>(diff.removed);
  const upgraded = asList<VersionChange>(diff.upgraded);
  const downgraded = asList<VersionChange>(diff.downgraded);
  const rows: Array<[string, string, string, string]> = [
    ...upgraded.map((c): [string, string, string, string] => [
      "upgraded",
      c.name ?? "?",
      c.from ?? "",
      c.to ?? "",
    ]),
    ...downgraded.map((c): [string, string, string, string] => [
      "downgraded",
      c.name ?? "?",
      c.from ?? "",
      c.to ?? "",
    ]),
    ...added.map((p): [string, string, string, string] => ["added", p.name ?? "?", "", p.version ?? ""]),
    ...removed.map((p): [string, string, string, string] => ["removed", p.name ?? "?", p.version ?? "", ""]),
  ];
  return (
    <>
      <p>
        {upgraded.length} upgraded, {downgraded.length} downgraded, {added.length} added, {removed.length}{" "}
        removed
        {typeof diff.unchanged === "number" ? `, ${diff.unchanged} unchanged` : ""}
      </p>
      {rows.length > 0 ? (
        <table class="cards">
          <thead>
            <tr>
              <th>change</th>
              <th>package</th>
              <th>from</th>
              <th>to</th>
            </tr>
          </thead>
          <tbody>
            {rows.map(([change, name, from, to]) => (
              <tr>
                <td data-label="change">
                  <Badge
                    state={change === "downgraded" || change === "removed" ? "interrupted" : "ready"}
                    text={change}
                  />
                </td>
                <td data-label="package">
                  <code>{name}</code>
                </td>
                <td data-label="from">
                  <code>{from}</code>
                </td>
                <td data-label="to">
                  <code>{to}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </>
  );
}

function summaryOf(report: JsonValue | null): string | undefined {
  if (report && typeof report === "object" && !Array.isArray(report) && typeof report.summary === "string")
    return report.summary;
  return undefined;
}

export function CandidatePage({
  ctx,
  v,
  targets,
  flash,
}: {
  ctx: PageContext;
  v: CandidateView;
  targets: string[];
  flash?: { kind: "ok" | "error"; text: string };
}) {
  const c = v.candidate;
  const decidable = c.state === "ready" || c.state === "approved";
  const promotable = c.state === "ready" || c.state === "approved" || c.state === "published";
  return (
    <Page ctx={ctx} title={`Candidate ${c.id}`} flash={flash}>
      <dl class="facts">
        <dt>state</dt>
        <dd>
          <Badge state={c.state} />
        </dd>
        <dt>layer</dt>
        <dd>
          <a href={`/layers/${encodeURIComponent(c.layer)}`}>{c.layer}</a> {c.arch}
        </dd>
        <dt>for target</dt>
        <dd>{c.target}</dd>
        <dt>updates</dt>
        <dd>
          <Sha sha={c.baseSha256} />
        </dd>
        <dt>requested by</dt>
        <dd>{c.requestedBy}</dd>
        <dt>reason</dt>
        <dd>{c.reason ?? "–"}</dd>
        <dt>created</dt>
        <dd>
          <When at={c.createdAt} />
        </dd>
        {c.runId !== null ? (
          <>
            <dt>run</dt>
            <dd>
              <a href={`/runs/${c.runId}`}>run {c.runId}</a>
            </dd>
          </>
        ) : null}
      </dl>

      {can(ctx, "candidate.approve") && decidable ? (
        <fieldset>
          <legend>Your verdict</legend>
          <form method="post" action={`/candidates/${c.id}/approve`} class="filters">
            <Csrf ctx={ctx} />
            <label>
              note (optional)
              <input type="text" name="reason" maxLength={500} />
            </label>
            <button type="submit" class="primary">
              Approve
            </button>
          </form>
          <form method="post" action={`/candidates/${c.id}/reject`} class="filters">
            <Csrf ctx={ctx} />
            <label>
              why (required)
              <input type="text" name="reason" maxLength={500} required />
            </label>
            <button type="submit" class="danger">
              Reject
            </button>
          </form>
          <p class="muted">
            Signed with your approver key and bound to the artifact's sha256 and the gates' digest; every gate
            must have passed, and the target's policy decides how many approvals count.
          </p>
        </fieldset>
      ) : null}
      {can(ctx, "candidate.promote") && promotable && targets.length > 0 ? (
        <form method="post" action={`/candidates/${c.id}/promote`}>
          <fieldset>
            <legend>Promote</legend>
            <Csrf ctx={ctx} />
            <div class="filters">
              <label>
                to target
                <select name="target">
                  {targets.map((t) => (
                    <option value={t}>{t}</option>
                  ))}
                </select>
              </label>
              <button type="submit" class="primary">
                Promote
              </button>
            </div>
            <p class="muted">
              Publishes exactly the approved artifact; the target's approval policy is checked again first.
            </p>
          </fieldset>
        </form>
      ) : null}

      <h2>Gates</h2>
      {v.gates.length === 0 ? (
        <p class="muted">No gate has run.</p>
      ) : (
        <table class="cards">
          <thead>
            <tr>
              <th>gate</th>
              <th>state</th>
              <th>attempt</th>
              <th>summary</th>
              <th>report</th>
            </tr>
          </thead>
          <tbody>
            {v.gates.map((g) => (
              <tr>
                <td data-label="gate">{g.gate}</td>
                <td data-label="state">
                  <Badge state={g.state} />
                </td>
                <td data-label="attempt">{g.attempt}</td>
                <td data-label="summary">{summaryOf(g.report) ?? ""}</td>
                <td data-label="report">
                  <details>
                    <summary>
                      report <Sha sha={g.reportSha256} />
                    </summary>
                    <pre>{JSON.stringify(g.report, null, 2)}</pre>
                  </details>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}

      <h2>Package diff</h2>
      <PackageDiffView diff={c.packageDiff} />

      <h2>Artifacts</h2>
      <table class="cards">
        <thead>
          <tr>
            <th>kind</th>
            <th>sha256</th>
            <th class="num">size</th>
            <th>file</th>
          </tr>
        </thead>
        <tbody>
          {[v.full, v.delta].map((a, i) =>
            a ? (
              <tr>
                <td data-label="kind">{a.kind}</td>
                <td data-label="sha256">
                  <Sha sha={a.sha256} />
                </td>
                <td data-label="size" class="num">
                  {bytes(a.size)}
                  {i === 1 && v.full ? (
                    <span class="muted">
                      {" "}
                      ({((a.size / Math.max(1, v.full.size)) * 100).toFixed(1)} % of full)
                    </span>
                  ) : null}
                </td>
                <td data-label="file">
                  <code>{a.path.split("/").at(-1)}</code>
                </td>
              </tr>
            ) : (
              <tr>
                <td data-label="kind">{i === 0 ? "full" : "delta"}</td>
                <td colSpan={3} class="muted">
                  none
                </td>
              </tr>
            ),
          )}
        </tbody>
      </table>

      <h2>Approvals</h2>
      {v.approvals.length === 0 ? (
        <p class="muted">None yet.</p>
      ) : (
        <table class="cards">
          <thead>
            <tr>
              <th>#</th>
              <th>verdict</th>
              <th>approver</th>
              <th>when</th>
              <th>note</th>
              <th>bound to</th>
              <th>standing</th>
            </tr>
          </thead>
          <tbody>
            {v.approvals.map((a) => (
              <tr>
                <td data-label="#">{a.id}</td>
                <td data-label="verdict">
                  <Badge state={a.verdict} />
                </td>
                <td data-label="approver">{a.approver}</td>
                <td data-label="when">
                  <When at={a.at} />
                </td>
                <td data-label="note">{a.reason ?? ""}</td>
                <td data-label="bound to">
                  artifact <Sha sha={a.artifactSha256} /> gates <Sha sha={a.gatesDigest} />
                </td>
                <td data-label="standing">
                  {a.voidedAt ? (
                    <Badge state="superseded" text={`voided: ${a.voidReason ?? ""}`} />
                  ) : (
                    <Badge state="passed" text="standing" />
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}

      <h2>Publications</h2>
      {v.publications.length === 0 ? (
        <p class="muted">Not published anywhere.</p>
      ) : (
        <ul>
          {v.publications.map((p) => (
            <li>
              <When at={p.at} /> {p.action} to <strong>{p.target}</strong> (<code>{p.layer}</code>,{" "}
              {p.kind ?? "?"}) by {p.user}
            </li>
          ))}
        </ul>
      )}
    </Page>
  );
}
