/** Plain HTTP against a test server (Node's fetch: a real socket on 127.0.0.1). */

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: unknown;
}

export interface Ask {
  method?: string;
  token?: string;
  cookie?: string;
  csrf?: string;
  /** An object is sent as JSON; a string as is (with `contentType`). */
  body?: unknown;
  contentType?: string;
  headers?: Record<string, string>;
}

export async function ask(base: string, path: string, a: Ask = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...a.headers };
  if (a.token !== undefined) headers.authorization = `Bearer ${a.token}`;
  if (a.cookie !== undefined) headers.cookie = a.cookie;
  if (a.csrf !== undefined) headers["x-csrf-token"] = a.csrf;
  let body: string | undefined;
  if (typeof a.body === "string") {
    body = a.body;
    headers["content-type"] = a.contentType ?? "application/json";
  } else if (a.body !== undefined) {
    body = JSON.stringify(a.body);
    headers["content-type"] = "application/json";
  }
  const r = await fetch(base + path, { method: a.method ?? "GET", headers, body, redirect: "manual" });
  const text = await r.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: r.status, headers: r.headers, text, json };
}

/** Cookies a response sets, as one Cookie header (name=value; …). */
export function cookiesOf(h: Headers): string {
  return h
    .getSetCookie()
    .map((c) => c.split(";")[0]!)
    .filter((c) => !c.endsWith("="))
    .join("; ");
}

/** Log in through the login form (password or token); the session cookie and its CSRF token. */
export async function login(
  base: string,
  creds: { user: string; password: string } | { token: string },
): Promise<{ cookie: string; csrf: string }> {
  const form = await ask(base, "/login");
  const loginCookie = cookiesOf(form.headers);
  const formCsrf = /name="_csrf" value="([^"]+)"/.exec(form.text)?.[1];
  if (!formCsrf) throw new Error(`no CSRF field on the login page:\n${form.text}`);
  const body = new URLSearchParams({ _csrf: formCsrf, ...creds }).toString();
  const r = await ask(base, "/login", {
    method: "POST",
    cookie: loginCookie,
    body,
    contentType: "application/x-www-form-urlencoded",
  });
  if (r.status !== 303) throw new Error(`login refused (${r.status}): ${r.text.slice(0, 500)}`);
  const cookie = cookiesOf(r.headers);
  const me = await ask(base, "/api/v1/me", { cookie });
  const csrf = (me.json as { csrf: string }).csrf;
  return { cookie, csrf };
}
