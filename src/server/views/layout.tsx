/**
 * The frame of every page and the small pieces pages share. Pages are Preact components rendered
 * to a string on the server: every value is escaped by the renderer (nothing here uses
 * dangerouslySetInnerHTML), the page works without JavaScript, and forms carry the session's CSRF
 * token.
 */
import type { ComponentChildren } from "preact";
import { renderToString } from "preact-render-to-string";
import { allows, type Permission } from "../../accounts/roles.js";
import type { UserRecord } from "../../store/accounts.js";
import { ACTION_PERMISSION, type ActionName } from "../actions.js";

export interface PageContext {
  user: UserRecord | null;
  csrf: string | null;
  /** The path of the page, to mark the current item of the menu. */
  path: string;
  /** What this installation's compat can do: a form for anything else is not shown. */
  actions: ReadonlySet<ActionName>;
}

const ACTION_OF = new Map(
  Object.entries(ACTION_PERMISSION).map(([action, p]) => [p as Permission, action as ActionName]),
);

/** The user may do it, and (for an action) this installation can. */
export const can = (ctx: PageContext, p: Permission) => {
  const action = ACTION_OF.get(p);
  return ctx.user !== null && allows(ctx.user.roles, p) && (action === undefined || ctx.actions.has(action));
};

export function renderPage(node: preact.VNode): string {
  return `<!DOCTYPE html>${renderToString(node)}`;
}

const NAV: Array<[string, string, Permission]> = [
  ["/", "Dashboard", "read"],
  ["/candidates", "Candidates", "read"],
  ["/findings", "Findings", "read"],
  ["/runs", "Runs", "read"],
  ["/audit", "Audit log", "read"],
  ["/users", "Users", "users.manage"],
];

export function Page(props: {
  ctx: PageContext;
  title: string;
  children: ComponentChildren;
  flash?: { kind: "ok" | "error"; text: string } | undefined;
  refreshSeconds?: number;
}) {
  const { ctx } = props;
  const current = (href: string) =>
    href === "/" ? ctx.path === "/" : ctx.path === href || ctx.path.startsWith(`${href}/`);
  return (
    <html lang="en">
      <head>
        <meta charSet="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        {props.refreshSeconds ? <meta http-equiv="refresh" content={String(props.refreshSeconds)} /> : null}
        <title>{`${props.title} · compat`}</title>
        <link rel="stylesheet" href="/static/style.css" />
      </head>
      <body>
        <header>
          <nav aria-label="main">
            <a class="brand" href="/">
              compat
            </a>
            {ctx.user
              ? NAV.filter(([, , p]) => can(ctx, p)).map(([href, text]) => (
                  <a href={href} aria-current={current(href) ? "page" : undefined}>
                    {text}
                  </a>
                ))
              : null}
            {ctx.user ? (
              <span class="who">
                <span>
                  {ctx.user.name} ({ctx.user.roles.join(", ")})
                </span>
                <form class="inline" method="post" action="/logout">
                  <Csrf ctx={ctx} />
                  <button type="submit">Log out</button>
                </form>
              </span>
            ) : null}
          </nav>
        </header>
        <main>
          <h1>{props.title}</h1>
          {props.flash ? (
            <p class={`flash ${props.flash.kind}`} role={props.flash.kind === "error" ? "alert" : "status"}>
              {props.flash.text}
            </p>
          ) : null}
          {props.children}
        </main>
      </body>
    </html>
  );
}

export function Csrf({ ctx }: { ctx: PageContext }) {
  return ctx.csrf ? <input type="hidden" name="_csrf" value={ctx.csrf} /> : null;
}

type Tone = "ok" | "bad" | "warn" | "info" | "none";

const STATE_TONE: Record<string, [Tone, string]> = {
  passed: ["ok", "✓"],
  succeeded: ["ok", "✓"],
  published: ["ok", "✓"],
  approved: ["ok", "✓"],
  approve: ["ok", "✓"],
  ready: ["info", "●"],
  running: ["info", "↻"],
  building: ["info", "↻"],
  gating: ["info", "↻"],
  failed: ["bad", "✗"],
  error: ["bad", "✗"],
  rejected: ["bad", "✗"],
  reject: ["bad", "✗"],
  interrupted: ["warn", "!"],
  superseded: ["none", "–"],
  critical: ["bad", "‼"],
  high: ["bad", "!"],
  normal: ["warn", "•"],
  medium: ["warn", "•"],
  low: ["info", "·"],
};

/** A state as a badge: a symbol and the word, coloured; the colour is never the only sign. */
export function Badge({ state, text }: { state: string; text?: string }) {
  const [tone, symbol] = STATE_TONE[state] ?? ["none", "·"];
  return (
    <span class={`badge s-${tone}`}>
      {symbol} {text ?? state}
    </span>
  );
}

export function Sha({ sha }: { sha: string | null }) {
  return sha ? <code title={sha}>{sha.slice(0, 12)}</code> : <span class="muted">–</span>;
}

/** "3 d", "5 h", "12 min" */
export function age(seconds: number): string {
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172_800) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86_400)} d`;
}

export function When({ at }: { at: string | null }) {
  return at ? (
    <time dateTime={at}>{at.replace("T", " ").replace(/\.\d+Z$/, "Z")}</time>
  ) : (
    <span class="muted">–</span>
  );
}

export function bytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

export function Gates({ gates }: { gates: Record<string, string> }) {
  const entries = Object.entries(gates);
  if (entries.length === 0) return <span class="muted">no gates</span>;
  return (
    <span class="gates">
      {entries.map(([g, s]) => (
        <Badge state={s} text={`${g}: ${s}`} />
      ))}
    </span>
  );
}
