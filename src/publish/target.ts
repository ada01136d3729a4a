/**
 * Publish targets as users write them: `local:DIR` (a directory standing for a repository root)
 * or `cvmfs:REPO[@HOST]` (cvmfs_server on this host, or on HOST over ssh).
 */
import { homedir } from "node:os";
import { join } from "node:path";
import { InputError } from "../errors.js";
import { LocalHost, SshHost } from "../exec/host.js";
import { CvmfsPublisher } from "./cvmfs.js";
import { LocalPublisher } from "./local.js";
import type { Publisher } from "./publisher.js";

export type PublishTarget =
  | { kind: "local"; root: string }
  | { kind: "cvmfs"; repository: string; host?: string };

const REPO_RE = /^[a-z0-9][a-z0-9.-]*\.[a-z0-9.-]+$/;

/** `context` starts every error message: the flag (`--to …: `) or nothing when the caller places it. */
export function parseTarget(s: string, context = `--to ${s}: `): PublishTarget {
  if (s.startsWith("local:")) {
    const root = s.slice("local:".length);
    if (!root) throw new InputError(`${context}local: needs a directory (local:DIR)`);
    return { kind: "local", root };
  }
  if (s.startsWith("cvmfs:")) {
    const rest = s.slice("cvmfs:".length);
    const at = rest.indexOf("@");
    const repository = at === -1 ? rest : rest.slice(0, at);
    const host = at === -1 ? undefined : rest.slice(at + 1);
    if (!REPO_RE.test(repository))
      throw new InputError(
        `${context}${repository || "(empty)"} is not a CVMFS repository name (e.g. software.eessi.io)`,
      );
    if (host !== undefined && !host) throw new InputError(`${context}empty host after @`);
    // ssh reads a destination starting with "-" as an option (-oProxyCommand=… runs a command)
    if (host !== undefined && (host.startsWith("-") || /\s/.test(host)))
      throw new InputError(`${context}${JSON.stringify(host)} is not a host name`, {
        hint: "expected cvmfs:REPO@HOST, e.g. cvmfs:software.eessi.io@stratum0.example.org",
      });
    return { kind: "cvmfs", repository, ...(host ? { host } : {}) };
  }
  throw new InputError(`${context}unknown target`, {
    hint: "expected local:DIR (a repository root directory) or cvmfs:REPO[@HOST]",
  });
}

export interface PublisherOptions {
  /** Where the cvmfs publisher keeps its lock and history. */
  stateDir?: string;
  sshConfig?: string;
  /** Where repositories are mounted on the publishing host (default /cvmfs). */
  cvmfsRoot?: string;
  /** Keep the layer a change replaces as `.<arch>-NNN` (a template transaction: catalog entries only). */
  keepCopy?: boolean;
  /** Publish a layer that does not exist yet with `cvmfs_server ingest` (one revision, no overlay). */
  ingest?: boolean;
}

/** Site admins look for a daemon's state in /var/lib; others get the XDG state dir. */
export function defaultStateDir(): string {
  if (process.getuid?.() === 0) return "/var/lib/compat";
  return join(process.env.XDG_STATE_HOME ?? join(homedir(), ".local", "state"), "compat");
}

export function publisherFor(target: string, opts: PublisherOptions = {}): Publisher {
  const t = parseTarget(target);
  if (t.kind === "local") return new LocalPublisher(t.root);
  return new CvmfsPublisher({
    repository: t.repository,
    host: t.host ? new SshHost(t.host, opts.sshConfig) : new LocalHost(),
    hostName: t.host,
    stateDir: opts.stateDir ?? defaultStateDir(),
    cvmfsRoot: opts.cvmfsRoot ?? "/cvmfs",
    ingest: opts.ingest ?? false,
    keepCopy: opts.keepCopy ?? false,
  });
}
