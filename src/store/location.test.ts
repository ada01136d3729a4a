import { describe, expect, it } from "vitest";
import { InputError } from "../errors.js";
import { describeStore, parseStoreUrl, redactStoreUrl, storeUrlProblem } from "./location.js";

describe("store locations", () => {
  it("are a SQLite path (relative to the config) or a PostgreSQL URL", () => {
    expect(parseStoreUrl("sqlite:state/compat.db", "/etc/compat")).toEqual({
      backend: "sqlite",
      path: "/etc/compat/state/compat.db",
    });
    expect(parseStoreUrl("/var/lib/compat/compat.db", "/etc/compat")).toEqual({
      backend: "sqlite",
      path: "/var/lib/compat/compat.db",
    });
    expect(parseStoreUrl("compat.db", "/etc/compat")).toEqual({
      backend: "sqlite",
      path: "/etc/compat/compat.db",
    });
    for (const url of [
      "postgres://compat@db/compat",
      "postgresql://compat:pw@db:5433/compat?sslmode=require",
    ])
      expect(parseStoreUrl(url, "/")).toEqual({ backend: "postgres", url });
  });

  it("refuses what compat cannot open, saying why", () => {
    expect(storeUrlProblem("")).toMatch(/empty/);
    expect(storeUrlProblem("sqlite:")).toMatch(/needs a file path/);
    expect(storeUrlProblem("mysql://db/x")).toMatch(/unknown store scheme "mysql:"/);
    expect(storeUrlProblem("sqlit:x.db")).toMatch(/did you mean "sqlite:"\?/);
    expect(storeUrlProblem("postgres://")).toMatch(/names no host|not a PostgreSQL URL/);
    expect(() => parseStoreUrl("redis://u:secret@h/0", "/")).toThrow(InputError);
  });

  it("never shows a password", () => {
    expect(redactStoreUrl("postgres://compat:s3cr%40t@db:5432/compat")).toBe(
      "postgres://compat:***@db:5432/compat",
    );
    expect(redactStoreUrl("postgres://compat@db/compat?password=s3cret&sslmode=require")).toBe(
      "postgres://compat@db/compat?password=***&sslmode=require",
    );
    expect(describeStore({ backend: "postgres", url: "postgresql://a:b@h/d" })).not.toContain(":b@");
    const err = (() => {
      try {
        parseStoreUrl("redis://u:secret@h/0", "/");
      } catch (e) {
        return e as Error;
      }
    })();
    expect(err?.message).not.toContain("secret");
  });
});
