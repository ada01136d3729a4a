/**
 * `compat user` and `compat serve` as a new user meets them: no config at all (SQLite in
 * ./compat-state/, localhost only), the first admin from the command line, tokens shown once and
 * revoked, bad input refused with exit 2, and a server that stops cleanly on SIGTERM.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compat } from "../helpers/cli.js";
import { ask } from "../helpers/http.js";
import { startServe } from "../helpers/serve-process.js";

describe("compat user and compat serve from the command line", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "compat-serve-e2e-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const run = (args: string[], input?: string) => compat(args, { cwd: dir, input });

  it("adds the first admin, lists, gives and revokes tokens; refuses bad input with exit 2", () => {
    expect(run(["user", "list"]).stdout).toMatch(/no users/);
    const add = run(
      ["user", "add", "root", "--role", "admin", "--password-stdin"],
      "correct horse battery\n",
    );
    expect(add.status, add.stderr).toBe(0);
    const token = /token 1: (compat_\S+)/.exec(add.stdout)?.[1];
    expect(token).toBeDefined();
    expect(existsSync(join(dir, "compat-state/compat.db"))).toBe(true);

    const bad: [string[], string | undefined, RegExp][] = [
      [["user", "add", "root", "--role", "admin"], undefined, /exists already/],
      [["user", "add", "../x", "--role", "admin"], undefined, /user "\.\.\/x"/],
      [["user", "add", "eve", "--role", "god"], undefined, /not a role/],
      [["user", "add", "eve", "--role", "viewer", "--password-stdin"], "short\n", /at least 12/],
      [["user", "add", "eve", "--role", "viewer", "--approver-key", "/etc/passwd"], undefined, /approver/],
      [
        ["user", "add", "eve", "--role", "approver", "--approver-key", "/nonexistent"],
        undefined,
        /nonexistent/,
      ],
      [["user", "token", "nobody"], undefined, /nobody/],
      [["user", "revoke", "root", "--token", "x"], undefined, /token id/],
    ];
    for (const [args, input, message] of bad) {
      const r = run(args, input);
      expect(r.status, `${args.join(" ")}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(message);
    }

    const more = run(["user", "token", "root", "--label", "ci", "--expires", "30", "--json"]);
    expect(more.status, more.stderr).toBe(0);
    const t2 = JSON.parse(more.stdout) as { tokenId: number; token: string; expiresAt: string };
    expect(t2.expiresAt > new Date().toISOString()).toBe(true);
    const list = run(["user", "list", "--json"]);
    expect(list.stdout).not.toContain(token!);
    expect(list.stdout).not.toContain(t2.token);
    const users = JSON.parse(list.stdout) as { users: { name: string; tokens: { id: number }[] }[] };
    expect(users.users[0]!.tokens.map((x) => x.id)).toEqual([1, 2]);
    expect(run(["user", "revoke", "root", "--token", String(t2.tokenId)]).status).toBe(0);
    expect(run(["user", "list"]).stdout).toMatch(/2:revoked/);
  });

  it("serves the embedded defaults on localhost, takes the admin's token, stops on SIGTERM", async () => {
    run(["user", "add", "vera", "--role", "viewer"]);
    const token = /(compat_\S+)/.exec(run(["user", "token", "vera"]).stdout)![1]!;
    const s = await startServe(["--log-requests"], dir);
    try {
      const h = await ask(s.url, "/healthz");
      expect(h.json).toMatchObject({ status: "ok", backend: "sqlite" });
      expect((h.json as { store: string }).store).toBe(`sqlite:${join(dir, "compat-state/compat.db")}`);
      expect((await ask(s.url, "/api/v1/me", { token })).json).toMatchObject({ user: { name: "vera" } });
      // revoked on the command line: refused by the running server at once
      expect(run(["user", "revoke", "vera"]).status).toBe(0);
      expect((await ask(s.url, "/api/v1/me", { token })).status).toBe(401);
    } finally {
      s.child.kill("SIGTERM");
    }
    expect(await s.exited).toEqual({ code: 0, signal: null });
    // --log-requests: one JSON line per request and its answer, never a credential
    const lines = s
      .stderr()
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as { req?: { url: string }; res?: { statusCode: number } });
    expect(lines.some((l) => l.req?.url === "/api/v1/me")).toBe(true);
    expect(lines.some((l) => l.res?.statusCode === 401)).toBe(true);
    expect(s.stderr()).not.toContain(token);
    expect(s.stderr()).toMatch(/compat serve stopped/);
  });

  it("refuses a --listen it cannot use with exit 2", async () => {
    expect(run(["serve", "--listen", "127.0.0.1:99999"]).status).toBe(2);
    expect(run(["serve", "--listen", "nonsense"]).status).toBe(2);
    const busy = createServer();
    await new Promise<void>((res) => busy.listen(0, "127.0.0.1", res));
    const port = (busy.address() as { port: number }).port;
    try {
      const r = run(["serve", "--listen", `127.0.0.1:${port}`]);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/in use/);
    } finally {
      busy.close();
    }
    const cron = run(["serve", "--listen", "127.0.0.1:0", "--watch-schedule", "not a cron"]);
    expect(cron.status).toBe(2);
    expect(cron.stderr).toMatch(/cron/);
  });
});
