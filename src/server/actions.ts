/**
 * What users do through the server, each as the `compat` command that does it on the command line
 * (the core enforces its rules, the approval policy among them, in that command): the server only
 * checks that the request names things the site has, builds the command line, and runs it as a
 * job for the user. An update, a promotion, a rollback and a watch run in the background (the
 * answer is the job's run); a verdict is quick, so its answer waits for the command's result.
 */
import { createPrivateKey, createPublicKey } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { Permission } from "../accounts/roles.js";
import { keyFingerprint } from "../artifacts/sign.js";
import { CompatError, InputError, ValidationError } from "../errors.js";
import type { SiteConfig } from "../site/load.js";
import type { UserRecord } from "../store/accounts.js";
import type { Job, JobResult, JobRunner } from "./jobs.js";
import type { SiteLayerInfo } from "./read-model.js";

export interface ActionContext {
  site: SiteConfig;
  /** What this installation's compat can do (availableActions). */
  actions: ReadonlySet<ActionName>;
  jobs: JobRunner;
  siteLayers: SiteLayerInfo;
}

/** What the server can do for its users, each by one `compat` command. */
export type ActionName = "update" | "approve" | "reject" | "promote" | "rollback" | "watch";

/** Each action's command and the options the server gives it. */
const COMMANDS: Record<ActionName, { command: string; options: string[] }> = {
  update: {
    command: "update",
    options: ["--arch", "--from", "--packages", "--reason", "--config", "--json"],
  },
  approve: { command: "approve", options: ["--key", "--reason", "--config", "--json"] },
  reject: { command: "reject", options: ["--key", "--why", "--config", "--json"] },
  promote: { command: "promote", options: ["--to", "--config", "--json"] },
  rollback: { command: "rollback", options: ["--to", "--layer", "--config", "--json"] },
  watch: { command: "watch", options: ["--once", "--config", "--json"] },
};

/** The permission each action needs (the roles table's). */
export const ACTION_PERMISSION: Record<ActionName, Permission> = {
  update: "update.start",
  approve: "candidate.approve",
  reject: "candidate.reject",
  promote: "candidate.promote",
  rollback: "target.rollback",
  watch: "watch.run",
};

/** A command of the CLI as the server sees it: its name and its long options (commander's Command). */
export interface CommandShape {
  name(): string;
  readonly options: readonly { long?: string }[];
}

/**
 * The actions this installation's `compat` can do: those whose command exists with every option
 * the server passes. The server offers only these (a route for another does not exist).
 */
export function availableActions(commands: readonly CommandShape[]): Set<ActionName> {
  const out = new Set<ActionName>();
  for (const [action, need] of Object.entries(COMMANDS) as [ActionName, (typeof COMMANDS)[ActionName]][]) {
    const cmd = commands.find((c) => c.name() === need.command);
    const has = new Set(cmd?.options.map((o) => o.long) ?? []);
    if (cmd && need.options.every((o) => has.has(o))) out.add(action);
  }
  return out;
}

/** `--config FILE` when the server runs on a site config file (the embedded default needs none). */
const config = (site: SiteConfig) => (site.file ? ["--config", site.file] : []);

function requireTarget(site: SiteConfig, target: string): void {
  if (!Object.hasOwn(site.targets, target))
    throw new NotFoundError(
      `no target ${JSON.stringify(target)} in the site config (targets: ${Object.keys(site.targets).join(", ") || "none"})`,
    );
}

/** A request for something that does not exist: HTTP 404. */
export class NotFoundError extends CompatError {
  constructor(message: string) {
    super("input", message);
    this.name = "NotFoundError";
  }
}

export interface UpdateRequest {
  layer: string;
  arch: string;
  from?: string;
  packages?: string[];
  reason?: string;
}

export async function startUpdate(ctx: ActionContext, user: UserRecord, r: UpdateRequest): Promise<Job> {
  if (!Object.hasOwn(ctx.site.layers, r.layer))
    throw new NotFoundError(`no layer ${JSON.stringify(r.layer)} in the site config`);
  const arches = ctx.siteLayers.get(r.layer)?.arches;
  if (arches && !arches.includes(r.arch))
    throw new InputError(`the site keeps ${r.layer} for ${arches.join(", ")}, not ${r.arch}`);
  if (r.from !== undefined) requireTarget(ctx.site, r.from);
  return ctx.jobs.start({
    action: "update",
    args: [
      "update",
      r.layer,
      "--arch",
      r.arch,
      ...(r.from !== undefined ? ["--from", r.from] : []),
      // a value a user wrote goes in the same argument as its option: it can never be read as one
      ...(r.packages && r.packages.length > 0 ? [`--packages=${r.packages.join(",")}`] : []),
      ...(r.reason !== undefined ? [`--reason=${r.reason}`] : []),
      ...config(ctx.site),
      "--json",
    ],
    lease: `job:update:${r.layer}:${r.arch}`,
    actor: user.name,
    layer: r.layer,
    arch: r.arch,
  });
}

export async function promote(
  ctx: ActionContext,
  user: UserRecord,
  candidate: number,
  target: string,
): Promise<Job> {
  requireTarget(ctx.site, target);
  return ctx.jobs.start({
    action: "promote",
    args: ["promote", String(candidate), "--to", target, ...config(ctx.site), "--json"],
    lease: `job:target:${target}`,
    actor: user.name,
  });
}

export async function rollback(
  ctx: ActionContext,
  user: UserRecord,
  target: string,
  layerDir: string,
): Promise<Job> {
  requireTarget(ctx.site, target);
  return ctx.jobs.start({
    action: "rollback",
    args: ["rollback", "--to", target, "--layer", layerDir, ...config(ctx.site), "--json"],
    lease: `job:target:${target}`,
    actor: user.name,
  });
}

/** `compat watch --once` for `actor` (a user, or the scheduler): one at a time across servers. */
export async function runWatch(ctx: ActionContext, actor: string): Promise<Job> {
  return ctx.jobs.start({
    action: "watch",
    args: ["watch", "--once", ...config(ctx.site), "--json"],
    lease: "job:watch",
    actor,
  });
}

/**
 * The approver key the server signs a user's verdict with: the user's (compat user add
 * --approver-key), and it must be the key the site config gives the approver of the same name,
 * so that no account can sign as another approver.
 */
export async function approverKeyOf(site: SiteConfig, user: UserRecord): Promise<string> {
  if (!user.approverKey)
    throw new ValidationError(`${user.name} has no approver key on this server`, {
      hint: `an admin gives one with: compat user add ${user.name} --role approver --approver-key FILE`,
    });
  const approver = Object.hasOwn(site.approvers, user.name) ? site.approvers[user.name] : undefined;
  if (!approver)
    throw new ValidationError(`${user.name} is not an approver in ${site.file ?? "the site config"}`, {
      hint: `list ${user.name} and their public key under approvers: in compat.yaml`,
    });
  let mine: string;
  let theirs: string;
  try {
    mine = keyFingerprint(createPublicKey(createPrivateKey(await readFile(user.approverKey))));
    theirs = keyFingerprint(createPublicKey(await readFile(approver.key)));
  } catch (e) {
    throw new ValidationError(`${user.name}'s approver key cannot be used: ${(e as Error).message}`);
  }
  if (mine !== theirs)
    throw new ValidationError(
      `${user.name}'s key on this server is not the key the site config gives the approver ${user.name}`,
    );
  return user.approverKey;
}

export interface VerdictResult {
  run: number;
  /** The command's --json result. */
  result: unknown;
}

export async function verdict(
  ctx: ActionContext,
  user: UserRecord,
  candidate: number,
  kind: "approve" | "reject",
  reason: string | undefined,
): Promise<VerdictResult> {
  if (kind === "reject" && reason === undefined) throw new InputError("a rejection needs a reason (why)");
  const key = await approverKeyOf(ctx.site, user);
  const job = await ctx.jobs.start({
    action: kind,
    args: [
      kind,
      String(candidate),
      "--key",
      key,
      ...(reason !== undefined ? [`${kind === "approve" ? "--reason" : "--why"}=${reason}`] : []),
      ...config(ctx.site),
      "--json",
    ],
    lease: `job:candidate:${candidate}`,
    actor: user.name,
  });
  const done = await job.done;
  return { run: job.run.id, result: resultOf(done) };
}

/** A job that ended: its --json result, or its error as the command said it (and its exit code's kind). */
export class JobFailedError extends CompatError {
  constructor(
    readonly result: JobResult,
    message: string,
  ) {
    super(kindOfExit(result.exitCode), message, {
      details: result.stderrTail
        .split("\n")
        .filter((l) => l.trim() !== "")
        .slice(-6),
    });
    this.name = "JobFailedError";
  }
}

function kindOfExit(code: number | null): CompatError["kind"] {
  if (code === 2) return "input";
  if (code === 3) return "check";
  if (code === 4) return "tool";
  return "internal";
}

export function resultOf(done: JobResult): unknown {
  if (done.state !== "succeeded") {
    const said = done.stderrTail
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l.startsWith("error:"))
      .at(0);
    throw new JobFailedError(
      done,
      said
        ? said.slice("error:".length).trim()
        : `the job ${done.state}${done.exitCode !== null ? ` (exit ${done.exitCode})` : ""}${done.signal ? ` (${done.signal})` : ""}: see run ${done.run.id}`,
    );
  }
  try {
    return JSON.parse(done.stdout);
  } catch {
    return { output: done.stdout };
  }
}
