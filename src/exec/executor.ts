/**
 * Executor strings, where a build, update or check runs: `local`, `ssh:[user@]host[:port]` or
 * `slurm[:partition=P,constraint=C,time=T]`, the same syntax on the command line (`--on`) and in
 * the site config (`executors:`). Every value ends up as an argument of ssh or sbatch, so each is
 * held to a strict grammar here: no leading `-` (read as an option), no `,`, `=`, spaces or control
 * characters (an sbatch directive or a second option), nothing a shell would interpret.
 */
import { InputError } from "../errors.js";

export type Executor =
  | { kind: "local" }
  | { kind: "ssh"; user?: string; host: string; port?: number }
  | { kind: "slurm"; partition?: string; constraint?: string; time?: string };

export type ExecutorKind = Executor["kind"];

const HOST_RE = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,252})$/;
const USER_RE = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/;
const PARTITION_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/;
/** Slurm features joined by & | (and brackets/counts): no spaces, commas or quotes. */
const CONSTRAINT_RE = /^[A-Za-z0-9_][A-Za-z0-9_.&|*[\]()-]{0,127}$/;
/** Slurm's time formats: M, M:S, H:M:S, D-H, D-H:M, D-H:M:S. */
const TIME_RE = /^(?:\d{1,7}(?::\d{1,2}){0,2}|\d{1,4}-\d{1,2}(?::\d{1,2}){0,2})$/;

const SYNTAX = "local, ssh:[user@]host[:port] or slurm[:partition=P,constraint=C,time=T]";

function bad(text: string, where: string, why: string): InputError {
  return new InputError(`${where ? `${where}: ` : ""}${JSON.stringify(text)} is not an executor: ${why}`, {
    hint: `expected ${SYNTAX}`,
  });
}

/** Parse an executor string; `where` names its origin for the message (`--on`, `compat.yaml executors.aarch64`). */
export function parseExecutor(text: string, where = "--on"): Executor {
  if (text === "local") return { kind: "local" };
  if (text.startsWith("ssh:")) return parseSsh(text, where);
  if (text === "slurm" || text.startsWith("slurm:")) return parseSlurm(text, where);
  throw bad(text, where, "unknown kind");
}

function parseSsh(text: string, where: string): Executor {
  const rest = text.slice(4);
  const m = /^(?:([^@]*)@)?([^:@]*)(?::([^:@]*))?$/.exec(rest);
  if (!m) throw bad(text, where, "expected ssh:[user@]host[:port]");
  const [, user, host, port] = m;
  if (user !== undefined && !USER_RE.test(user))
    throw bad(text, where, `user ${JSON.stringify(user)} is not a user name (letters, digits, _ . -)`);
  if (!host || !HOST_RE.test(host))
    throw bad(
      text,
      where,
      `${JSON.stringify(host ?? "")} is not a host name (letters, digits, '.', '-', '_'; not starting with '-')`,
    );
  let portNumber: number | undefined;
  if (port !== undefined) {
    portNumber = /^[0-9]{1,5}$/.test(port) ? Number(port) : Number.NaN;
    if (!(portNumber >= 1 && portNumber <= 65535))
      throw bad(text, where, `port ${JSON.stringify(port)} is not a port number (1-65535)`);
  }
  return {
    kind: "ssh",
    host,
    ...(user !== undefined ? { user } : {}),
    ...(portNumber !== undefined ? { port: portNumber } : {}),
  };
}

function parseSlurm(text: string, where: string): Executor {
  const out: { kind: "slurm"; partition?: string; constraint?: string; time?: string } = { kind: "slurm" };
  if (text === "slurm") return out;
  const body = text.slice(6);
  if (body === "") throw bad(text, where, "nothing after slurm:");
  for (const item of body.split(",")) {
    const eq = item.indexOf("=");
    const key = eq < 0 ? item : item.slice(0, eq);
    const value = eq < 0 ? "" : item.slice(eq + 1);
    if (key !== "partition" && key !== "constraint" && key !== "time")
      throw bad(text, where, `${JSON.stringify(key)} is not a slurm option (partition, constraint, time)`);
    if (out[key] !== undefined) throw bad(text, where, `${key} is given twice`);
    const rule = key === "partition" ? PARTITION_RE : key === "constraint" ? CONSTRAINT_RE : TIME_RE;
    if (!rule.test(value))
      throw bad(
        text,
        where,
        key === "time"
          ? `time ${JSON.stringify(value)} is not a Slurm time limit (minutes, H:M:S or D-H:M:S)`
          : `${key} ${JSON.stringify(value)} is not a Slurm ${key} name (letters, digits, _ . -${key === "constraint" ? " & |" : ""})`,
      );
    out[key] = value;
  }
  return out;
}

/** The executor as it is written: `ssh:builder@arm1:2222`, `slurm:partition=riscv`. */
export function formatExecutor(e: Executor): string {
  switch (e.kind) {
    case "local":
      return "local";
    case "ssh":
      return `ssh:${e.user ? `${e.user}@` : ""}${e.host}${e.port ? `:${e.port}` : ""}`;
    case "slurm": {
      const opts = (["partition", "constraint", "time"] as const)
        .filter((k) => e[k] !== undefined)
        .map((k) => `${k}=${e[k]}`);
      return opts.length ? `slurm:${opts.join(",")}` : "slurm";
    }
  }
}

/** Arguments for ssh that name the destination (never read as an option: they come after `--`-safe checks). */
export function sshDestination(e: Extract<Executor, { kind: "ssh" }>): {
  args: string[];
  destination: string;
} {
  return {
    args: e.port ? ["-p", String(e.port)] : [],
    destination: `${e.user ? `${e.user}@` : ""}${e.host}`,
  };
}

/** The sbatch options an executor asks for (each its own argument: nothing reaches a shell). */
export function sbatchOptions(e: Extract<Executor, { kind: "slurm" }>): string[] {
  return [
    ...(e.partition ? [`--partition=${e.partition}`] : []),
    ...(e.constraint ? [`--constraint=${e.constraint}`] : []),
    ...(e.time ? [`--time=${e.time}`] : []),
  ];
}

/** A remote compat command as words (`compat`, `node /opt/compat/dist/cli/bin.js`), checked. */
export function parseCompatCommand(text: string, where: string): string[] {
  const words = text.trim().split(/ +/);
  if (text.trim() === "" || words.some((w) => /[\p{Cc}]/u.test(w) || w.startsWith("-")))
    throw new InputError(
      `${where ? `${where}: ` : ""}${JSON.stringify(text)} is not a command (words separated by spaces, no control characters, none starting with '-')`,
      { hint: "e.g. compat, or node /opt/compat/dist/cli/bin.js" },
    );
  return words;
}
