/** A layer: its publications on every target (with rollback), findings over time, candidates, and a new update. */
import type { LayerView } from "../read-model.js";
import { Badge, Csrf, can, Page, type PageContext, Sha, When } from "./layout.js";

export function LayerPage({
  ctx,
  v,
  arches,
  targets,
}: {
  ctx: PageContext;
  v: LayerView;
  arches: string[];
  targets: string[];
}) {
  // the newest publication of each (target, layer directory) is what a rollback would undo
  const newest = new Set<number>();
  const seen = new Set<string>();
  for (const p of v.publications) {
    const key = `${p.target}\0${p.layer}`;
    if (!seen.has(key)) newest.add(p.id);
    seen.add(key);
  }
  const maxDay = Math.max(1, ...v.findingsOverTime.map((d) => Math.max(d.opened, d.resolved)));
  return (
    <Page ctx={ctx} title={`Layer ${v.name}`}>
      {v.layer ? (
        <dl class="facts">
          <dt>stack / version</dt>
          <dd>
            {v.layer.stack} {v.layer.version}
          </dd>
          <dt>flavor</dt>
          <dd>{v.layer.flavor}</dd>
          <dt>arches</dt>
          <dd>{v.layer.arches.join(", ")}</dd>
          <dt>spec</dt>
          <dd>
            <code>{v.layer.specPath}</code> <span class="muted">sha256</span> <Sha sha={v.layer.specSha256} />
          </dd>
        </dl>
      ) : (
        <p class="muted">Not registered in the store yet: the first update registers it.</p>
      )}

      {can(ctx, "update.start") && arches.length > 0 ? (
        <form method="post" action={`/layers/${encodeURIComponent(v.name)}/update`}>
          <fieldset>
            <legend>Start an update</legend>
            <Csrf ctx={ctx} />
            <div class="filters">
              <label>
                arch
                <select name="arch">
                  {arches.map((a) => (
                    <option value={a}>{a}</option>
                  ))}
                </select>
              </label>
              {targets.length > 0 ? (
                <label>
                  from target
                  <select name="from">
                    {targets.map((t) => (
                      <option value={t}>{t}</option>
                    ))}
                  </select>
                </label>
              ) : null}
              <label>
                reason
                <input type="text" name="reason" maxLength={500} placeholder="e.g. GLSA 202501-01" />
              </label>
              <button type="submit" class="primary">
                Start update
              </button>
            </div>
          </fieldset>
        </form>
      ) : null}

      <h2>Publications</h2>
      {v.publications.length === 0 ? (
        <p class="muted">Nothing published yet.</p>
      ) : (
        <table class="cards">
          <thead>
            <tr>
              <th>#</th>
              <th>when</th>
              <th>target</th>
              <th>layer</th>
              <th>action</th>
              <th>sha256</th>
              <th>candidate</th>
              <th>by</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {v.publications.map((p) => (
              <tr>
                <td data-label="#">{p.id}</td>
                <td data-label="when">
                  <When at={p.at} />
                </td>
                <td data-label="target">{p.target}</td>
                <td data-label="layer">
                  <code>{p.layer}</code>
                </td>
                <td data-label="action">
                  <Badge state={p.action === "publish" ? "published" : "interrupted"} text={p.action} />
                  {p.kind ? <span class="muted"> {p.kind}</span> : null}
                </td>
                <td data-label="sha256">
                  <Sha sha={p.sha256} />
                </td>
                <td data-label="candidate">
                  {p.candidateId !== null ? (
                    <a href={`/candidates/${p.candidateId}`}>#{p.candidateId}</a>
                  ) : (
                    "–"
                  )}
                </td>
                <td data-label="by">{p.user}</td>
                <td>
                  {newest.has(p.id) && p.action === "publish" && can(ctx, "target.rollback") ? (
                    <form
                      method="post"
                      action={`/targets/${encodeURIComponent(p.target)}/rollback`}
                      class="inline"
                    >
                      <Csrf ctx={ctx} />
                      <input type="hidden" name="layer" value={p.layer} />
                      <button type="submit" class="danger">
                        Roll back
                      </button>
                    </form>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}

      <h2>Open findings</h2>
      {v.openFindings.length === 0 ? (
        <p>
          <Badge state="passed" text="none open" />
        </p>
      ) : (
        <p class="sev">
          {v.openFindings.map((f) => (
            <a
              href={`/findings?layer=${encodeURIComponent(v.name)}&arch=${encodeURIComponent(f.arch)}&severity=${encodeURIComponent(f.severity)}&status=open`}
            >
              <Badge state={f.severity} text={`${f.arch}: ${f.count} ${f.severity}`} />
            </a>
          ))}
        </p>
      )}
      <h2>Findings over time (30 days)</h2>
      {v.findingsOverTime.length === 0 ? (
        <p class="muted">No finding was opened or resolved in the last 30 days.</p>
      ) : (
        <table class="bars">
          <thead>
            <tr>
              <th>day</th>
              <th class="num">opened</th>
              <th class="num">resolved</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {v.findingsOverTime.map((d) => (
              <tr>
                <td>{d.day}</td>
                <td class="num">{d.opened}</td>
                <td class="num">{d.resolved}</td>
                <td class="bar" aria-hidden="true">
                  <span class="opened" style={{ width: `${(d.opened / maxDay) * 8}rem` }} />
                  <span class="resolved" style={{ width: `${(d.resolved / maxDay) * 8}rem` }} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}

      <h2>Candidates</h2>
      <CandidateTable candidates={v.candidates} />
    </Page>
  );
}

export function CandidateTable({ candidates }: { candidates: LayerView["candidates"] }) {
  if (candidates.length === 0) return <p class="muted">No candidates.</p>;
  return (
    <table class="cards">
      <thead>
        <tr>
          <th>#</th>
          <th>layer</th>
          <th>arch</th>
          <th>target</th>
          <th>state</th>
          <th>full artifact</th>
          <th>requested by</th>
          <th>reason</th>
          <th>created</th>
        </tr>
      </thead>
      <tbody>
        {candidates.map((c) => (
          <tr>
            <td data-label="#">
              <a href={`/candidates/${c.id}`}>#{c.id}</a>
            </td>
            <td data-label="layer">
              <a href={`/layers/${encodeURIComponent(c.layer)}`}>{c.layer}</a>
            </td>
            <td data-label="arch">{c.arch}</td>
            <td data-label="target">{c.target}</td>
            <td data-label="state">
              <Badge state={c.state} />
            </td>
            <td data-label="full artifact">
              <Sha sha={c.fullSha256} />
            </td>
            <td data-label="requested by">{c.requestedBy}</td>
            <td data-label="reason">{c.reason ?? ""}</td>
            <td data-label="created">
              <When at={c.createdAt} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
