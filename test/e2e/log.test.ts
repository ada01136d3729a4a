/** `compat log` as a user runs it: the audit log, its proof, and a store that was tampered with, on both backends. */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { appendAudit } from "../../src/store/audit.js";
import type { StoreLocation } from "../../src/store/location.js";
import { openStore } from "../../src/store/open.js";
import { compat } from "../helpers/cli.js";
import { BACKENDS, tamper, useStores } from "../helpers/stores.js";

const root = mkdtempSync(join(tmpdir(), "compat-e2e-log-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function siteWithStore(name: string, location: StoreLocation): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  const store = location.backend === "sqlite" ? `sqlite:${location.path}` : location.url;
  writeFileSync(join(dir, "compat.yaml"), `store: '${store}'\n`);
  return join(dir, "compat.yaml");
}

async function appendSome(location: StoreLocation, n: number, actor = "alice"): Promise<void> {
  const store = await openStore(location, { actor: "setup" });
  try {
    for (let i = 1; i <= n; i++)
      await appendAudit(store, {
        actor,
        action: "candidate.approval",
        subject: `candidate:${i}`,
        detail: { reason: "gates green" },
      });
  } finally {
    await store.close();
  }
}

describe("compat log on the embedded default", () => {
  it("makes ./compat-state/ with a SQLite store and shows its first entry", () => {
    const cwd = join(root, "fresh");
    mkdirSync(cwd);
    const r = compat(["log"], { cwd });
    expect(r.status, r.stderr).toBe(0);
    expect(existsSync(join(cwd, "compat-state", "compat.db"))).toBe(true);
    expect(r.stdout).toMatch(/^#\s+when \(UTC\)\s+who\s+action\s+subject\s+detail\n/);
    expect(r.stdout).toMatch(
      /\n1\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ\s+\S+\s+store\.migrated\s+store\s+backend=sqlite/,
    );
    const v = compat(["log", "--verify"], { cwd });
    expect(v.status).toBe(0);
    expect(v.stdout).toMatch(
      /^intact audit log of sqlite:.*compat-state\/compat\.db: 1 row, each hash and link checked\n {2}head {2}row 1 {2}sha256 [0-9a-f]{64}\n$/,
    );
  });

  it("refuses a bad --limit and a missing --config (exit 2)", () => {
    expect(compat(["log", "--limit", "0"], { cwd: root }).status).toBe(2);
    const r = compat(["log", "--config", join(root, "nope.yaml")], { cwd: root });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/cannot read the site config .*nope\.yaml: no such file/);
  });

  it("points at the line of a bad site config (exit 2)", () => {
    const file = join(root, "bad.yaml");
    writeFileSync(file, "state: x\nstor: y\n");
    const r = compat(["log", "--config", file], { cwd: root });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`${file}:2:1 stor: unknown key, did you mean "store"?`);
  });

  it("says which store cannot be opened (exit 4)", () => {
    const dir = join(root, "store-is-a-dir");
    mkdirSync(join(dir, "db"), { recursive: true });
    writeFileSync(join(dir, "compat.yaml"), "store: db\n");
    const r = compat(["log", "--config", join(dir, "compat.yaml")], { cwd: root });
    expect(r.status).toBe(4);
    expect(r.stderr).toContain(
      `cannot open the store sqlite:${join(dir, "db")}: it is a directory, not a SQLite file`,
    );
  });
});

describe.each(BACKENDS)("compat log on %s", (backend) => {
  const stores = useStores(backend);

  it("prints the entries as a table and as JSON, oldest first, --limit the newest", async () => {
    const location = await stores.location();
    await appendSome(location, 3);
    const config = siteWithStore(`list-${backend}`, location);
    const r = compat(["log", "--config", config], { cwd: root });
    expect(r.status, r.stderr).toBe(0);
    expect(
      r.stdout
        .trim()
        .split("\n")
        .slice(2)
        .map((l) => l.split(/\s{2,}/)[0]),
    ).toEqual(["1", "2", "3", "4"]);
    expect(r.stdout).toMatch(/\n4\s+.*\s+alice\s+candidate\.approval\s+candidate:3\s+reason=gates green\n$/);

    const j = compat(["log", "--config", config, "--json", "--limit", "2"], { cwd: root });
    const out = JSON.parse(j.stdout) as { store: string; entries: Array<Record<string, unknown>> };
    expect(out.entries.map((e) => e.seq)).toEqual([3, 4]);
    expect(Object.keys(out.entries[0]!).sort()).toEqual([
      "action",
      "actor",
      "at",
      "detail",
      "prevSha256",
      "seq",
      "sha256",
      "subject",
    ]);
    expect(out.entries[1]!.prevSha256).toBe(out.entries[0]!.sha256);
    if (backend === "postgres")
      expect(out.store).toMatch(/^postgres:\/\/store_\d+_owner:\*\*\*@127\.0\.0\.1:\d+\/store_\d+$/);
    expect(j.stdout).not.toContain("pw-store");
  });

  it("--verify passes, then fails (exit 3) naming the row after one byte of it is edited in the database", async () => {
    const location = await stores.location();
    await appendSome(location, 4);
    const config = siteWithStore(`verify-${backend}`, location);
    const ok = compat(["log", "--config", config, "--verify", "--json"], { cwd: root });
    expect(ok.status, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ ok: true, rows: 5, head: { seq: 5 } });

    // "gates green" → "gates greeN": one byte of row 3's detail
    await tamper(location, "update audit_log set detail = replace(detail, 'green', 'greeN') where seq = 3");
    const bad = compat(["log", "--config", config, "--verify"], { cwd: root });
    expect(bad.status).toBe(3);
    expect(bad.stdout).toBe("");
    expect(bad.stderr).toMatch(/audit log of .* is not intact: row 3 is bad \(2 rows before it are intact\)/);
    expect(bad.stderr).toMatch(
      /row 3: its content hashes to [0-9a-f]{16}… but it records [0-9a-f]{16}…: the row was edited/,
    );
    const badJson = compat(["log", "--config", config, "--verify", "--json"], { cwd: root });
    expect(badJson.status).toBe(3);
    expect(JSON.parse(badJson.stdout)).toMatchObject({ ok: false, rows: 2, firstBad: { seq: 3 } });
    // the log itself still prints, so people can see what was changed
    expect(compat(["log", "--config", config], { cwd: root }).stdout).toContain("reason=gates greeN");
  });

  it("shows control characters from the store as text, not as terminal commands", async () => {
    const location = await stores.location();
    await appendSome(location, 1, "eve\u001b[2J\u001b[1;1H");
    const r = compat(["log", "--config", siteWithStore(`escape-${backend}`, location)], { cwd: root });
    expect(r.stdout).not.toContain("\u001b");
    expect(r.stdout).toContain("eve\\u{1b}[2J\\u{1b}[1;1H");
  });

  it.runIf(backend === "postgres")("refuses a wrong password (exit 4) without printing it", async () => {
    const location = (await stores.location()) as { backend: "postgres"; url: string };
    const wrong = {
      backend: "postgres" as const,
      url: location.url.replace(/:pw-[^@]+@/, ":Tr0ub4dor-wrong@"),
    };
    const r = compat(["log", "--config", siteWithStore("wrong-password", wrong)], { cwd: root });
    expect(r.status).toBe(4);
    expect(r.stderr).toMatch(
      /cannot open the store postgres:\/\/store_\d+_owner:\*\*\*@127\.0\.0\.1:\d+\/store_\d+: password authentication failed/,
    );
    expect(r.stderr).not.toContain("Tr0ub4dor");
  });
});
