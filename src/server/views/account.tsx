/** Logging in, the users page for admins, a token shown once, and errors. */
import { ROLES } from "../../accounts/roles.js";
import type { ApiTokenRecord, UserRecord } from "../../store/accounts.js";
import { Badge, Csrf, Page, type PageContext, When } from "./layout.js";

export function LoginPage({
  ctx,
  loginCsrf,
  error,
  next,
}: {
  ctx: PageContext;
  loginCsrf: string;
  error?: string;
  next?: string;
}) {
  return (
    <Page ctx={ctx} title="Log in" flash={error ? { kind: "error", text: error } : undefined}>
      <form method="post" action="/login" class="stack">
        <input type="hidden" name="_csrf" value={loginCsrf} />
        {next ? <input type="hidden" name="next" value={next} /> : null}
        <label>
          user
          <input type="text" name="user" autoComplete="username" maxLength={64} />
        </label>
        <label>
          password
          <input type="password" name="password" autoComplete="current-password" maxLength={1024} />
        </label>
        <p class="muted">or, instead of user and password:</p>
        <label>
          API token
          <input type="password" name="token" autoComplete="off" maxLength={100} placeholder="compat_…" />
        </label>
        <button type="submit" class="primary">
          Log in
        </button>
      </form>
      <p class="muted">
        An admin makes accounts with <code>compat user add NAME --role ROLE</code>.
      </p>
    </Page>
  );
}

export function UsersPage({
  ctx,
  users,
  tokens,
  flash,
}: {
  ctx: PageContext;
  users: UserRecord[];
  tokens: ApiTokenRecord[];
  flash?: { kind: "ok" | "error"; text: string };
}) {
  const now = new Date().toISOString();
  return (
    <Page ctx={ctx} title="Users" flash={flash}>
      <table class="cards">
        <thead>
          <tr>
            <th>user</th>
            <th>roles</th>
            <th>password</th>
            <th>state</th>
            <th>tokens</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {users.map((u) => (
            <tr>
              <td data-label="user">{u.name}</td>
              <td data-label="roles">{u.roles.join(", ")}</td>
              <td data-label="password">{u.hasPassword ? "yes" : "no"}</td>
              <td data-label="state">
                {u.disabledAt ? (
                  <Badge state="rejected" text="revoked" />
                ) : (
                  <Badge state="passed" text="active" />
                )}
              </td>
              <td data-label="tokens">
                <ul>
                  {tokens
                    .filter((t) => t.user === u.name)
                    .map((t) => (
                      <li>
                        #{t.id} {t.label ?? ""}{" "}
                        {t.revokedAt ? (
                          <Badge state="rejected" text="revoked" />
                        ) : t.expiresAt !== null && t.expiresAt <= now ? (
                          <Badge state="interrupted" text="expired" />
                        ) : (
                          <>
                            <Badge state="passed" text="active" />
                            {t.expiresAt ? (
                              <span class="muted">
                                {" "}
                                until <When at={t.expiresAt} />
                              </span>
                            ) : null}{" "}
                            <form method="post" action={`/tokens/${t.id}/revoke`} class="inline">
                              <Csrf ctx={ctx} />
                              <button type="submit">revoke</button>
                            </form>
                          </>
                        )}
                      </li>
                    ))}
                </ul>
                {u.disabledAt ? null : (
                  <form method="post" action={`/users/${encodeURIComponent(u.name)}/tokens`} class="inline">
                    <Csrf ctx={ctx} />
                    <button type="submit">new token</button>
                  </form>
                )}
              </td>
              <td>
                {u.disabledAt || u.name === ctx.user?.name ? null : (
                  <form method="post" action={`/users/${encodeURIComponent(u.name)}/revoke`} class="inline">
                    <Csrf ctx={ctx} />
                    <button type="submit" class="danger">
                      Revoke user
                    </button>
                  </form>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <form method="post" action="/users" class="stack">
        <fieldset>
          <legend>Add a user</legend>
          <Csrf ctx={ctx} />
          <label>
            name
            <input
              type="text"
              name="name"
              required
              maxLength={64}
              pattern="[A-Za-z0-9][A-Za-z0-9._\-]{0,63}"
            />
          </label>
          <div>
            {ROLES.map((r) => (
              <label class="check">
                <input type="checkbox" name="roles" value={r} /> {r}
              </label>
            ))}
          </div>
          <label>
            password for browser logins (optional, at least 12 characters)
            <input type="password" name="password" autoComplete="new-password" maxLength={1024} />
          </label>
          <button type="submit" class="primary">
            Add user
          </button>
          <p class="muted">
            An approver signs with a key the server holds: give it with{" "}
            <code>compat user add NAME --role approver --approver-key FILE</code> on the server.
          </p>
        </fieldset>
      </form>
    </Page>
  );
}

export function TokenShownPage({
  ctx,
  user,
  token,
  id,
}: {
  ctx: PageContext;
  user: string;
  token: string;
  id: number;
}) {
  return (
    <Page ctx={ctx} title={`Token for ${user}`} flash={{ kind: "ok", text: `token ${id} for ${user} made` }}>
      <p>Copy it now: it is shown this once and only its sha256 is kept.</p>
      <pre>
        <code id="token">{token}</code>
      </pre>
      <p>
        <a href="/users">back to the users</a>
      </p>
    </Page>
  );
}

export function ErrorPage({
  ctx,
  status,
  message,
  details,
}: {
  ctx: PageContext;
  status: number;
  message: string;
  details?: string[];
}) {
  return (
    <Page
      ctx={ctx}
      title={status === 404 ? "Not found" : status === 403 ? "Not allowed" : "Something went wrong"}
    >
      <p class="flash error" role="alert">
        {message}
      </p>
      {details && details.length > 0 ? (
        <ul>
          {details.map((d) => (
            <li>{d}</li>
          ))}
        </ul>
      ) : null}
      <p>
        <a href="/">back to the dashboard</a>
      </p>
    </Page>
  );
}
