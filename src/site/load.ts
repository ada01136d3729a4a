/**
 * Loading the site config: `--config FILE`, else `./compat.yaml`, else the embedded default (a
 * `./compat-state/` directory holding a SQLite store and the artifacts). Relative paths in a file
 * are taken from the file's directory; the default's from the working directory.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { closest } from "../config/near.js";
import { formatProblem, validateYamlText } from "../config/yaml.js";
import { InputError } from "../errors.js";
import type { Arch } from "../layer/id.js";
import { type PublishTarget, parseTarget } from "../publish/target.js";
import { parseStoreUrl, type StoreLocation } from "../store/location.js";
import type { ChannelConfig } from "../watch/notify/config.js";
import { childPath } from "./names.js";
import { type SiteConfigFile, siteConfigSchema } from "./schema.js";

export const DEFAULT_CONFIG_FILE = "compat.yaml";

export interface SiteLayer {
  name: string;
  /** Absolute path of the layer spec. */
  spec: string;
  /** The arches to keep up to date; undefined: every arch of the spec. */
  arches: Arch[] | undefined;
  /** The impact gate's software trees and tests (paths absolute); undefined: no impact gate. */
  impact?: SiteImpact;
}

export interface SiteImpact {
  software: { path: string; at?: string }[];
  tests: string[];
  reframe?: string;
}

export interface ApprovalPolicy {
  /** How many different approvers a candidate needs before it is published to the target. */
  approvals: number;
  requesterMayApprove: boolean;
  /** Names of the approvers whose approvals count (every approver when the config names none). */
  approvers: string[];
}

export interface SiteTarget {
  name: string;
  /** The target as the publishers take it, a `local:` directory made absolute. */
  to: string;
  target: PublishTarget;
  policy: ApprovalPolicy;
}

export interface SiteApprover {
  name: string;
  /** Absolute path of the approver's ed25519 public key (PEM). */
  key: string;
}

/** The advisories section with every path absolute. */
export interface SiteAdvisories {
  maxAgeDays: number;
  cacheDir: string;
  glsa: { dir?: string };
  debianSecurity: { index?: string; tracker?: string; mirror?: string; maxAgeDays?: number };
  gentooGit: { repository?: string; securityBugs?: string; maxAgeDays?: number };
}

export type SiteWatch = SiteConfigFile["watch"];

export type SiteChannel = ChannelConfig & { name: string };

export interface SiteNotifications {
  channels: Record<string, SiteChannel>;
  retry: SiteConfigFile["notifications"]["retry"];
}

export interface SiteConfig {
  /** The compat.yaml read (absolute), or undefined for the embedded default. */
  file: string | undefined;
  /** The directory relative paths were taken from. */
  baseDir: string;
  /** Absolute: where artifacts, run records and candidates go. */
  stateDir: string;
  store: StoreLocation;
  layers: Record<string, SiteLayer>;
  targets: Record<string, SiteTarget>;
  approvers: Record<string, SiteApprover>;
  advisories: SiteAdvisories;
  watch: SiteWatch;
  notifications: SiteNotifications;
  /** arch → where its builds run, paths absolute. */
  executors: Partial<Record<string, SiteExecutor>>;
}

/** One arch's executor from the site config. */
export interface SiteExecutor {
  on: string;
  compat?: string;
  workDir?: string;
  sshConfig?: string;
  /** `compat update` there: the site config's path on the build host. */
  config?: string;
}

/**
 * The site config from `file`, or from `./compat.yaml` in `cwd` when there is one, or the
 * embedded default. Throws InputError (exit 2) listing every problem with its line.
 */
export async function loadSiteConfig(file?: string, cwd = process.cwd()): Promise<SiteConfig> {
  if (file === undefined) {
    const implicit = join(cwd, DEFAULT_CONFIG_FILE);
    if (!existsSync(implicit)) return resolveSiteConfig(siteConfigSchema.parse({}), undefined, cwd);
    file = implicit;
  }
  const path = resolve(cwd, file);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(
      `cannot read the site config ${file}: ${code === "ENOENT" ? "no such file" : code === "EISDIR" ? "a directory" : String(e)}`,
      { hint: "give the path of a compat.yaml (the reference is docs/site-config.md)" },
    );
  }
  return parseSiteConfig(text, path);
}

/** Validate and resolve the text of a site config read from `file` (an absolute path). */
export function parseSiteConfig(text: string, file: string): SiteConfig {
  const { value, problems } = validateYamlText(siteConfigSchema, text, file, "site config sections");
  if (value === undefined || problems.length > 0) {
    const n = problems.length;
    throw new InputError(`${file}: invalid site config (${n} problem${n === 1 ? "" : "s"})`, {
      details: problems.map(formatProblem),
      hint: "the site config reference is docs/site-config.md",
    });
  }
  return resolveSiteConfig(value, file, dirname(file));
}

function resolveSiteConfig(config: SiteConfigFile, file: string | undefined, baseDir: string): SiteConfig {
  const at = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));
  const stateDir = at(config.state);
  const allApprovers = Object.keys(config.approvers);
  return {
    file,
    baseDir,
    stateDir,
    store: parseStoreUrl(config.store ?? `sqlite:${join(stateDir, "compat.db")}`, baseDir),
    layers: Object.fromEntries(
      Object.entries(config.layers).map(([name, l]) => [
        name,
        {
          name,
          spec: at(l.spec),
          arches: l.arches,
          ...(l.impact
            ? {
                impact: {
                  software: l.impact.software.map((t) => ({
                    path: at(t.path),
                    ...(t.at ? { at: t.at } : {}),
                  })),
                  tests: l.impact.tests.map(at),
                  ...(l.impact.reframe ? { reframe: l.impact.reframe } : {}),
                },
              }
            : {}),
        },
      ]),
    ),
    targets: Object.fromEntries(
      Object.entries(config.targets).map(([name, t]) => {
        const parsed = parseTarget(t.to, `targets.${name}.to: `);
        const target: PublishTarget =
          parsed.kind === "local" ? { kind: "local", root: at(parsed.root) } : parsed;
        const to = target.kind === "local" ? `local:${target.root}` : t.to;
        const policy: ApprovalPolicy = {
          approvals: t.policy.approvals,
          requesterMayApprove: t.policy.requesterMayApprove,
          approvers: t.policy.approvers ?? allApprovers,
        };
        return [name, { name, to, target, policy }];
      }),
    ),
    approvers: Object.fromEntries(
      Object.entries(config.approvers).map(([name, a]) => [name, { name, key: at(a.key) }]),
    ),
    executors: Object.fromEntries(
      Object.entries(config.executors).map(([arch, e]) => {
        const entry = typeof e === "string" ? { on: e } : e;
        // a slurm work dir is on this host (shared with the nodes); an ssh one is on the build host
        const onThisHost = entry.on.startsWith("slurm");
        const workDir = entry.workDir ?? (onThisHost ? join(stateDir, "slurm") : undefined);
        const resolved: SiteExecutor = {
          on: entry.on,
          ...(entry.compat ? { compat: entry.compat } : {}),
          ...(workDir !== undefined ? { workDir: onThisHost ? at(workDir) : workDir } : {}),
          ...(entry.sshConfig ? { sshConfig: at(entry.sshConfig) } : {}),
          ...(entry.config ? { config: entry.config } : {}),
        };
        return [arch, resolved];
      }),
    ),
    advisories: resolveAdvisories(config.advisories, stateDir, at),
    watch: { ...config.watch, cvmfsRoot: at(config.watch.cvmfsRoot) },
    notifications: {
      retry: config.notifications.retry,
      channels: Object.fromEntries(
        Object.entries(config.notifications.channels).map(([name, c]) => {
          const secret = (r: { env: string } | { file: string }) => ("file" in r ? { file: at(r.file) } : r);
          const channel = { ...c, name, url: secret(c.url) } as SiteChannel;
          if (channel.type === "webhook") channel.secret = secret(channel.secret);
          return [name, channel];
        }),
      ),
    },
  };
}

function resolveAdvisories(
  a: SiteConfigFile["advisories"],
  stateDir: string,
  at: (p: string) => string,
): SiteAdvisories {
  const opt = (p: string | undefined) => (p === undefined ? {} : { dir: at(p) });
  return {
    maxAgeDays: a.maxAgeDays,
    cacheDir: a.cacheDir === undefined ? join(stateDir, "cache") : at(a.cacheDir),
    glsa: opt(a.glsa.dir),
    debianSecurity: {
      ...(a.debianSecurity.index !== undefined ? { index: at(a.debianSecurity.index) } : {}),
      ...(a.debianSecurity.tracker !== undefined ? { tracker: at(a.debianSecurity.tracker) } : {}),
      ...(a.debianSecurity.mirror !== undefined ? { mirror: a.debianSecurity.mirror } : {}),
      ...(a.debianSecurity.maxAgeDays !== undefined ? { maxAgeDays: a.debianSecurity.maxAgeDays } : {}),
    },
    gentooGit: {
      ...(a.gentooGit.repository !== undefined ? { repository: at(a.gentooGit.repository) } : {}),
      ...(a.gentooGit.securityBugs !== undefined ? { securityBugs: at(a.gentooGit.securityBugs) } : {}),
      ...(a.gentooGit.maxAgeDays !== undefined ? { maxAgeDays: a.gentooGit.maxAgeDays } : {}),
    },
  };
}

/** Where the state directory keeps each kind of record. */
export function statePaths(config: SiteConfig): { artifacts: string; runs: string; candidates: string } {
  return {
    artifacts: join(config.stateDir, "artifacts"),
    runs: join(config.stateDir, "runs"),
    candidates: join(config.stateDir, "candidates"),
  };
}

/** `<state>/<area>/<layer>/<arch>`, for the layer and arch names of this config only. */
export function layerStateDir(
  config: SiteConfig,
  area: keyof ReturnType<typeof statePaths>,
  layer: string,
  arch: Arch,
): string {
  return childPath(statePaths(config)[area], siteLayer(config, layer).name, arch);
}

/** The layer of that name, or InputError (exit 2) with the names there are. */
export function siteLayer(config: SiteConfig, name: string): SiteLayer {
  return lookup(config.layers, name, "layer", "layers");
}

/** The target of that name, or InputError (exit 2) with the names there are. */
export function siteTarget(config: SiteConfig, name: string): SiteTarget {
  return lookup(config.targets, name, "target", "targets");
}

function lookup<T>(entries: Record<string, T>, name: string, what: string, section: string): T {
  const found = Object.hasOwn(entries, name) ? entries[name] : undefined;
  if (found !== undefined) return found;
  const names = Object.keys(entries);
  const guess = closest(name, names);
  throw new InputError(
    `no ${what} ${JSON.stringify(name)} in the site config${guess ? `, did you mean "${guess}"?` : ""}`,
    {
      hint: names.length
        ? `the ${section} are: ${names.join(", ")}`
        : `the site config has no ${section}: add them under \`${section}:\` in compat.yaml (docs/site-config.md)`,
    },
  );
}
