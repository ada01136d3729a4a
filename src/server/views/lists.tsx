/** The list pages: candidates, findings (with filters), runs, one run with its log, the audit log. */
import type { AuditEntry } from "../../store/audit.js";
import type { Candidate } from "../../store/candidates.js";
import type { FindingRecord } from "../../store/findings.js";
import type { RunRecord } from "../../store/runs.js";
import { CandidateTable } from "./layer.js";
import { Badge, Page, type PageContext, When } from "./layout.js";

export function CandidatesPage(props: {
  ctx: PageContext;
  candidates: Candidate[];
  states: readonly string[];
  state: string | undefined;
}) {
  return (
    <Page ctx={props.ctx} title="Candidates">
      <form method="get" action="/candidates" class="filters">
        <label>
          state
          <select name="state">
            <option value="">any</option>
            {props.states.map((s) => (
              <option value={s} selected={s === props.state}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <button type="submit">Filter</button>
      </form>
      <CandidateTable candidates={props.candidates} />
    </Page>
  );
}

export interface FindingFilterView {
  severity: string[];
  source?: string;
  layer?: string;
  arch?: string;
  status: "open" | "resolved" | "all";
  limit: number;
}

export function FindingsPage(props: {
  ctx: PageContext;
  findings: FindingRecord[];
  filter: FindingFilterView;
  severities: string[];
  sources: string[];
  layers: string[];
}) {
  const f = props.filter;
  return (
    <Page ctx={props.ctx} title="Findings">
      <form method="get" action="/findings" class="filters">
        <fieldset>
          <legend>severity</legend>
          {props.severities.map((s) => (
            <label class="check">
              <input type="checkbox" name="severity" value={s} checked={f.severity.includes(s)} /> {s}
            </label>
          ))}
        </fieldset>
        <label>
          source
          <select name="source">
            <option value="">any</option>
            {props.sources.map((s) => (
              <option value={s} selected={s === f.source}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <label>
          layer
          <select name="layer">
            <option value="">any</option>
            {props.layers.map((l) => (
              <option value={l} selected={l === f.layer}>
                {l}
              </option>
            ))}
          </select>
        </label>
        <label>
          status
          <select name="status">
            {(["open", "resolved", "all"] as const).map((s) => (
              <option value={s} selected={s === f.status}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <button type="submit">Filter</button>
      </form>
      <p class="muted">
        {props.findings.length === f.limit ? `the newest ${f.limit}` : `${props.findings.length} finding(s)`}
      </p>
      {props.findings.length === 0 ? null : (
        <table class="cards">
          <thead>
            <tr>
              <th>severity</th>
              <th>advisory</th>
              <th>package</th>
              <th>fix</th>
              <th>CVEs</th>
              <th>layer</th>
              <th>target</th>
              <th>first seen</th>
              <th>resolved</th>
            </tr>
          </thead>
          <tbody>
            {props.findings.map((x) => (
              <tr>
                <td data-label="severity">
                  <Badge state={x.severity} />
                </td>
                <td data-label="advisory">
                  <span class="muted">{x.source}</span> {x.advisoryId}
                  {x.title ? <div>{x.title}</div> : null}
                </td>
                <td data-label="package">
                  <code>{x.installed}</code>
                </td>
                <td data-label="fix">
                  <code>{x.fix ?? ""}</code>
                </td>
                <td data-label="CVEs">{x.cves.join(" ")}</td>
                <td data-label="layer">
                  <a href={`/layers/${encodeURIComponent(x.layer)}`}>{x.layer}</a> {x.arch}
                </td>
                <td data-label="target">{x.target}</td>
                <td data-label="first seen">
                  <When at={x.firstSeen} />
                </td>
                <td data-label="resolved">
                  {x.resolvedAt ? <When at={x.resolvedAt} /> : <Badge state="failed" text="open" />}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Page>
  );
}

function runWhat(r: RunRecord): string {
  const d = r.detail as { action?: unknown; args?: unknown } | null;
  if (r.kind === "job" && d && Array.isArray(d.args)) return `compat ${d.args.join(" ")}`;
  return r.kind;
}

export function RunsPage({ ctx, runs }: { ctx: PageContext; runs: RunRecord[] }) {
  return (
    <Page ctx={ctx} title="Runs">
      {runs.length === 0 ? (
        <p class="muted">No runs yet.</p>
      ) : (
        <table class="cards">
          <thead>
            <tr>
              <th>#</th>
              <th>what</th>
              <th>layer</th>
              <th>state</th>
              <th>started</th>
              <th>ended</th>
              <th>host</th>
            </tr>
          </thead>
          <tbody>
            {runs.map((r) => (
              <tr>
                <td data-label="#">
                  <a href={`/runs/${r.id}`}>{r.id}</a>
                </td>
                <td data-label="what">
                  <code>{runWhat(r)}</code>
                </td>
                <td data-label="layer">{r.layer ? `${r.layer} ${r.arch ?? ""}` : ""}</td>
                <td data-label="state">
                  <Badge state={r.state} />
                  {r.exitCode !== null && r.exitCode !== 0 ? (
                    <span class="muted"> exit {r.exitCode}</span>
                  ) : null}
                </td>
                <td data-label="started">
                  <When at={r.startedAt} />
                </td>
                <td data-label="ended">
                  <When at={r.endedAt} />
                </td>
                <td data-label="host">{r.host}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Page>
  );
}

export function RunPage({
  ctx,
  run,
  log,
  flash,
}: {
  ctx: PageContext;
  run: RunRecord;
  /** The log so far (its tail), or why there is none. */
  log: { text: string; truncated: boolean } | { missing: string };
  flash?: { kind: "ok" | "error"; text: string };
}) {
  const running = run.state === "running";
  return (
    <Page ctx={ctx} title={`Run ${run.id}`} refreshSeconds={running ? 3 : undefined} flash={flash}>
      <dl class="facts">
        <dt>what</dt>
        <dd>
          <code>{runWhat(run)}</code>
        </dd>
        <dt>state</dt>
        <dd>
          <Badge state={run.state} />
          {run.exitCode !== null ? <span class="muted"> exit {run.exitCode}</span> : null}
        </dd>
        <dt>started</dt>
        <dd>
          <When at={run.startedAt} />
        </dd>
        <dt>ended</dt>
        <dd>
          <When at={run.endedAt} />
        </dd>
        <dt>host, pid</dt>
        <dd>
          {run.host}, {run.pid}
        </dd>
      </dl>
      <h2>Log</h2>
      {"missing" in log ? (
        <p class="muted">{log.missing}</p>
      ) : (
        <>
          <p>
            <a href={`/runs/${run.id}/log`}>{running ? "follow the log as it grows" : "the whole log"}</a>{" "}
            <span class="muted">(plain text{running ? ", streamed until the run ends" : ""})</span>
          </p>
          {log.truncated ? <p class="muted">… the last 64 KiB:</p> : null}
          <pre id="log">{log.text}</pre>
        </>
      )}
    </Page>
  );
}

export function AuditPage({
  ctx,
  entries,
  before,
  subject,
}: {
  ctx: PageContext;
  entries: AuditEntry[];
  before: number | undefined;
  subject: string | undefined;
}) {
  const oldest = entries.at(-1);
  return (
    <Page ctx={ctx} title="Audit log">
      <form method="get" action="/audit" class="filters">
        <label>
          subject
          <input
            type="text"
            name="subject"
            value={subject ?? ""}
            placeholder="candidate:12"
            maxLength={200}
          />
        </label>
        <button type="submit">Filter</button>
      </form>
      <p class="muted">
        Every change, hash-chained: <code>compat log --verify</code> proves the chain.
      </p>
      <table class="cards">
        <thead>
          <tr>
            <th>#</th>
            <th>when</th>
            <th>who</th>
            <th>action</th>
            <th>subject</th>
            <th>detail</th>
          </tr>
        </thead>
        <tbody>
          {entries.map((e) => (
            <tr>
              <td data-label="#">{e.seq}</td>
              <td data-label="when">
                <When at={e.at} />
              </td>
              <td data-label="who">{e.actor}</td>
              <td data-label="action">
                <code>{e.action}</code>
              </td>
              <td data-label="subject">{e.subject}</td>
              <td data-label="detail">
                <code>{JSON.stringify(e.detail)}</code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {oldest && oldest.seq > 1 ? (
        <p>
          <a href={`/audit?before=${oldest.seq}${subject ? `&subject=${encodeURIComponent(subject)}` : ""}`}>
            older
          </a>
          {before !== undefined ? (
            <>
              {" · "}
              <a href="/audit">newest</a>
            </>
          ) : null}
        </p>
      ) : null}
    </Page>
  );
}
