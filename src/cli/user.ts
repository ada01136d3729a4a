/**
 * `compat user add|list|token|revoke`: the accounts of `compat serve`, on the command line (where
 * the first admin comes from). A token is printed once and only its sha256 is kept; a password is
 * read from stdin (never from the command line, where `ps` shows it) and kept as its scrypt hash.
 */
import { type Command, InvalidArgumentError } from "commander";
import { InputError } from "../errors.js";
import { renderTable } from "../text.js";
import { jsonOption } from "./common-options.js";
import { printJson } from "./output.js";

interface ConfigOption {
  config?: string;
  json?: boolean;
}

function days(value: string): number {
  if (!/^[1-9][0-9]{0,4}$/.test(value)) throw new InvalidArgumentError("expected a whole number of days ≥ 1");
  return Number(value);
}

function tokenId(value: string): number {
  if (!/^[1-9][0-9]{0,8}$/.test(value))
    throw new InvalidArgumentError("expected a token id (compat user list)");
  return Number(value);
}

const expiry = (d: number | undefined) =>
  d === undefined ? undefined : new Date(Date.now() + d * 86_400_000).toISOString();

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks)
    .toString("utf8")
    .replace(/\r?\n$/, "");
}

async function withAccounts<T>(
  opts: ConfigOption,
  fn: (store: import("../store/store.js").Store) => Promise<T>,
): Promise<T> {
  const { loadSiteConfig } = await import("../site/load.js");
  const { withStore } = await import("../store/open.js");
  const site = await loadSiteConfig(opts.config);
  return withStore(site.store, fn);
}

const CONFIG_TEXT = "site config (default ./compat.yaml, else ./compat-state/ with a SQLite store)";

export function register(program: Command): void {
  const user = program
    .command("user")
    .description("accounts of compat serve: add users with roles, list them, give tokens, revoke");

  user
    .command("add")
    .description("add a user with roles; prints their first API token once")
    .argument("<name>", "user name (one word; an approver's name is the one under approvers: in compat.yaml)")
    .requiredOption("--role <roles>", "comma-separated: viewer, maintainer, approver, admin")
    .option("--password-stdin", "read a password for browser logins from stdin (at least 12 characters)")
    .option(
      "--approver-key <file>",
      "the approver's ed25519 private key (compat keygen) the server signs their verdicts with",
    )
    .option("--expires <days>", "the token expires after this many days (default: never)", days)
    .option("--config <file>", CONFIG_TEXT)
    .addOption(jsonOption("print the user and the token as JSON"))
    .action(
      async (
        name: string,
        opts: ConfigOption & {
          role: string;
          passwordStdin?: boolean;
          approverKey?: string;
          expires?: number;
        },
      ) => {
        const { addUser, checkUserName, parseRoles } = await import("../accounts/index.js");
        const { currentUser } = await import("../store/actor.js");
        checkUserName(name);
        const roles = parseRoles(opts.role);
        let approverKey: string | undefined;
        if (opts.approverKey !== undefined) {
          if (!roles.includes("approver"))
            throw new InputError("--approver-key is for a user with the role approver");
          const { resolve } = await import("node:path");
          const { signBytes } = await import("../artifacts/sign.js");
          approverKey = resolve(opts.approverKey);
          await signBytes(Buffer.from("compat user add"), approverKey); // an ed25519 private key we can read
        }
        const password = opts.passwordStdin ? await readStdin() : undefined;
        const r = await withAccounts(opts, (store) =>
          addUser(
            store,
            { name, roles, password, approverKey, tokenExpiresAt: expiry(opts.expires) },
            currentUser(),
          ),
        );
        if (opts.json) printJson({ user: r.user, token: r.token.token, tokenId: r.token.record.id });
        else
          process.stdout.write(
            `added ${r.user.name} (${r.user.roles.join(", ")})\n` +
              `token ${r.token.record.id}: ${r.token.token}\n` +
              "  (shown once: keep it now; compat serve takes it as a login or as 'Authorization: Bearer TOKEN')\n",
          );
      },
    );

  user
    .command("list")
    .description("list the users, their roles and tokens (never the tokens themselves)")
    .option("--config <file>", CONFIG_TEXT)
    .addOption(jsonOption("print users and tokens as JSON"))
    .action(async (opts: ConfigOption) => {
      const { listUsers, listApiTokens } = await import("../store/accounts.js");
      const { users, tokens } = await withAccounts(opts, async (store) => ({
        users: await listUsers(store),
        tokens: await listApiTokens(store),
      }));
      if (opts.json) {
        printJson({ users: users.map((u) => ({ ...u, tokens: tokens.filter((t) => t.user === u.name) })) });
        return;
      }
      if (users.length === 0) {
        process.stdout.write("no users: add the first admin with compat user add NAME --role admin\n");
        return;
      }
      const now = new Date().toISOString();
      const state = (t: (typeof tokens)[number]) =>
        t.revokedAt ? "revoked" : t.expiresAt !== null && t.expiresAt <= now ? "expired" : "active";
      process.stdout.write(
        `${renderTable(
          ["USER", "ROLES", "PASSWORD", "STATE", "TOKENS"],
          users.map((u) => [
            u.name,
            u.roles.join(","),
            u.hasPassword ? "yes" : "no",
            u.disabledAt ? `revoked ${u.disabledAt}` : "active",
            tokens
              .filter((t) => t.user === u.name)
              .map(
                (t) =>
                  `${t.id}:${state(t)}${t.expiresAt && !t.revokedAt ? `(until ${t.expiresAt.slice(0, 10)})` : ""}`,
              )
              .join(" ") || "-",
          ]),
        )}\n`,
      );
    });

  user
    .command("token")
    .description("give a user another API token; prints it once")
    .argument("<name>", "user name")
    .option("--expires <days>", "the token expires after this many days (default: never)", days)
    .option("--label <text>", "what the token is for (e.g. ci)")
    .option("--config <file>", CONFIG_TEXT)
    .addOption(jsonOption("print the token as JSON"))
    .action(async (name: string, opts: ConfigOption & { expires?: number; label?: string }) => {
      const { issueToken, checkUserName } = await import("../accounts/index.js");
      const { currentUser } = await import("../store/actor.js");
      checkUserName(name);
      if (opts.label !== undefined && !/^[\p{L}\p{N} ._:-]{1,64}$/u.test(opts.label))
        throw new InputError("--label: one line of at most 64 letters, digits, spaces and . _ : -");
      const t = await withAccounts(opts, (store) =>
        issueToken(store, name, { label: opts.label, expiresAt: expiry(opts.expires) }, currentUser()),
      );
      if (opts.json) printJson({ tokenId: t.record.id, token: t.token, expiresAt: t.record.expiresAt });
      else
        process.stdout.write(`token ${t.record.id} for ${name}: ${t.token}\n  (shown once: keep it now)\n`);
    });

  user
    .command("revoke")
    .description("revoke a user (every token and session at once), or with --token one token")
    .argument("<name>", "user name")
    .option("--token <id>", "revoke only this token of the user", tokenId)
    .option("--config <file>", CONFIG_TEXT)
    .addOption(jsonOption("print what was revoked as JSON"))
    .action(async (name: string, opts: ConfigOption & { token?: number }) => {
      const { checkUserName } = await import("../accounts/index.js");
      const { disableUser, revokeApiToken } = await import("../store/accounts.js");
      const { currentUser } = await import("../store/actor.js");
      checkUserName(name);
      const r = await withAccounts(opts, async (store) =>
        opts.token === undefined
          ? { user: await disableUser(store, name, currentUser()) }
          : { token: await revokeApiToken(store, opts.token, currentUser(), name) },
      );
      if (opts.json) printJson(r);
      else if ("token" in r && r.token) process.stdout.write(`revoked token ${r.token.id} of ${name}\n`);
      else process.stdout.write(`revoked ${name}: no token or session of theirs works any more\n`);
    });
}
