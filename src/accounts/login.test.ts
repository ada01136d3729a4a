/**
 * A password login costs one scrypt whether or not the user exists (or has a password), so its
 * timing does not tell an attacker which names are users. Counted, not timed.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { openStore } from "../store/open.js";
import type { Store } from "../store/store.js";

const checked: string[] = [];
vi.mock("./secrets.js", async (original) => {
  const real = await original<typeof import("./secrets.js")>();
  return {
    ...real,
    verifyPassword: async (password: string, stored: string) => {
      checked.push(stored === real.UNMATCHABLE_HASH ? "unmatchable" : "stored");
      return real.verifyPassword(password, stored);
    },
  };
});

const { addUser, authenticatePassword } = await import("./index.js");

let dir: string;
let store: Store;
const PASSWORD = "correct horse battery";

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "compat-login-"));
  store = await openStore({ backend: "sqlite", path: join(dir, "compat.db") });
  await addUser(store, { name: "alice", roles: ["viewer"], password: PASSWORD }, "test");
  await addUser(store, { name: "robot", roles: ["viewer"] }, "test"); // token only
});
afterAll(async () => {
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  checked.length = 0;
});

describe("password login", () => {
  it("accepts the right password and refuses a wrong one, one scrypt each", async () => {
    expect((await authenticatePassword(store, "alice", PASSWORD))?.name).toBe("alice");
    expect(await authenticatePassword(store, "alice", "wrong password!")).toBeUndefined();
    expect(checked).toEqual(["stored", "stored"]);
  });

  it("spends the same scrypt on an unknown user and on a user without a password, and refuses both", async () => {
    expect(await authenticatePassword(store, "mallory", PASSWORD)).toBeUndefined();
    expect(await authenticatePassword(store, "robot", PASSWORD)).toBeUndefined();
    expect(checked).toEqual(["unmatchable", "unmatchable"]);
  });

  it("has an unmatchable hash in today's parameters, which no password matches", async () => {
    const { UNMATCHABLE_HASH, verifyPassword, hashPassword } = await import("./secrets.js");
    const fields = UNMATCHABLE_HASH.split("$");
    expect(fields.slice(0, 4)).toEqual((await hashPassword("x".repeat(12))).split("$").slice(0, 4));
    expect(await verifyPassword("", UNMATCHABLE_HASH)).toBe(false);
  });
});
