/** The dashboard: every layer × arch, what each target holds, open findings and the pending candidate. */
import { renderToString } from "preact-render-to-string";
import type { Dashboard, DashboardRow } from "../read-model.js";
import { age, Badge, Csrf, can, Gates, Page, type PageContext, renderPage, Sha } from "./layout.js";

/**
 * The layers table is the same for every user who asks within a second (currentDashboard gives
 * the same object): it is rendered once for them all, by the same escaping renderer. A row is
 * rendered again only when what it shows changed (ages as shown, "5 min", not in seconds): when
 * the store changes, most of the 100 rows of a big site are still the same.
 */
const tables = new WeakMap<Dashboard, Buffer>();
const rows = new Map<string, string>();
const MAX_ROWS = 10_000;

function tableBytes(d: Dashboard): Buffer {
  let bytes = tables.get(d);
  if (bytes === undefined) {
    bytes = Buffer.from(
      renderToString(<LayersHead d={d} />) + `<tbody>${d.rows.map((r) => rowHtml(d, r)).join("")}</tbody>`,
    );
    tables.set(d, bytes);
  }
  return bytes;
}

/**
 * Where the page holds the layers table until it is sent: a comment no text of the page can
 * make (preact escapes `<` in every text and attribute), replaced by the table's kept bytes.
 */
const TABLE_SLOT = "<!--compat:layers-table-->";

/** The dashboard page as bytes: the page around the table rendered for this user, the table kept. */
export function dashboardPageBytes(ctx: PageContext, d: Dashboard): Buffer {
  const page = renderPage(<DashboardPage ctx={ctx} d={d} />);
  const at = page.indexOf(TABLE_SLOT);
  if (at < 0) return Buffer.from(page);
  return Buffer.concat([
    Buffer.from(page.slice(0, at)),
    tableBytes(d),
    Buffer.from(page.slice(at + TABLE_SLOT.length)),
  ]);
}

function rowHtml(d: Dashboard, r: DashboardRow): string {
  const shown = Object.fromEntries(
    Object.entries(r.targets).map(([t, c]) => [t, c && { ...c, ageSeconds: age(c.ageSeconds) }]),
  );
  const key = JSON.stringify([d.targets, d.severities, { ...r, targets: shown }]);
  let html = rows.get(key);
  if (html === undefined) {
    html = renderToString(<LayerRow d={d} r={r} />);
    if (rows.size >= MAX_ROWS) rows.clear();
    rows.set(key, html);
  }
  return html;
}

function DashboardPage({ ctx, d }: { ctx: PageContext; d: Dashboard }) {
  return (
    <Page ctx={ctx} title="Layers">
      {d.rows.length === 0 ? (
        <p>
          No layers yet. Layers appear once an update registers them (<code>compat update LAYER</code>) or the
          site config lists them under <code>layers:</code>.
        </p>
      ) : (
        // the table's markup is preact's own escaping output (tableBytes), put in the slot when sent
        <table class="cards dashboard" dangerouslySetInnerHTML={{ __html: TABLE_SLOT }} />
      )}
      {can(ctx, "watch.run") ? (
        <form method="post" action="/watch">
          <Csrf ctx={ctx} />
          <button type="submit">Run a watch now</button>{" "}
          <span class="muted">audits every published layer with every advisory source</span>
        </form>
      ) : null}
      <p class="muted">
        As of {d.generatedAt}. The same data: <a href="/api/v1/dashboard">/api/v1/dashboard</a>.
      </p>
    </Page>
  );
}

/** The head of the layers table. */
function LayersHead({ d }: { d: Dashboard }) {
  return (
    <thead>
      <tr>
        <th scope="col">Layer</th>
        <th scope="col">Arch</th>
        {d.targets.map((t) => (
          <th scope="col">{t}</th>
        ))}
        <th scope="col">Open findings</th>
        <th scope="col">Pending candidate</th>
      </tr>
    </thead>
  );
}

/** One layer × arch of the layers table. */
function LayerRow({ d, r }: { d: Dashboard; r: DashboardRow }) {
  return (
    <tr>
      <td data-label="Layer">
        <a href={`/layers/${encodeURIComponent(r.layer)}`}>{r.layer}</a>
        {r.version ? <span class="muted"> {r.version}</span> : null}
      </td>
      <td data-label="Arch">{r.arch}</td>
      {d.targets.map((t) => {
        const c = r.targets[t];
        return (
          <td data-label={t}>
            {c ? (
              <span class="cell">
                <span>
                  <Sha sha={c.sha256} /> <span class="muted">{age(c.ageSeconds)} ago</span>
                </span>
                {c.action === "rollback" ? <Badge state="interrupted" text="rolled back" /> : null}
                {c.candidate !== null ? (
                  <a href={`/candidates/${c.candidate}`}>candidate {c.candidate}</a>
                ) : null}
                <Gates gates={c.gates} />
              </span>
            ) : (
              <span class="muted">not published</span>
            )}
          </td>
        );
      })}
      <td data-label="Open findings">
        <Findings counts={r.findings} order={d.severities} />
      </td>
      <td data-label="Pending candidate">
        {r.pending ? (
          <span class="cell">
            <span>
              <a href={`/candidates/${r.pending.id}`}>#{r.pending.id}</a> <Badge state={r.pending.state} />{" "}
              <span class="muted">for {r.pending.target}</span>
            </span>
            <Gates gates={r.pending.gates} />
          </span>
        ) : (
          <span class="muted">none</span>
        )}
      </td>
    </tr>
  );
}

export function Findings({ counts, order }: { counts: Record<string, number>; order: string[] }) {
  const present = order.filter((s) => (counts[s] ?? 0) > 0);
  if (present.length === 0) return <Badge state="passed" text="none open" />;
  return (
    <span class="sev">
      {present.map((s) => (
        <Badge state={s} text={`${counts[s]} ${s}`} />
      ))}
    </span>
  );
}
