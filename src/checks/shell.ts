/**
 * Running commands inside the layer, as EESSI's checks do: `startprefix <<< "cmd"`. The layer's
 * startprefix prints `Leaving Prefix with exit status N` (Gentoo's prints `Leaving Gentoo Prefix
 * with exit status N`); N is the command's status. A layer that is not at its real path runs
 * through the sandbox, which shows it there.
 */
import { emulationFor } from "../exec/emulation.js";
import { type RunResult, run } from "../exec/run.js";
import { runInLayer } from "../exec/sandbox.js";
import type { LayerFs } from "./layer-fs.js";
import type { LayerTarget } from "./target.js";

export interface ShellResult {
  /** The command given to startprefix. */
  command: string;
  /** How it was run, for the evidence. */
  invocation: string;
  /** The status startprefix reported (`Leaving … with exit status N`); undefined when it printed none. */
  exitStatus: number | undefined;
  /** startprefix's own exit status. */
  processStatus: number;
  /** stdout without the `Leaving … Prefix …` line. */
  stdout: string;
  stderr: string;
  durationMs: number;
}

export interface PrefixShell {
  /** Why commands cannot run in this layer here (no startprefix, foreign arch, no sandbox); undefined when they can. */
  unavailable(): Promise<string | undefined>;
  run(command: string, opts?: { timeoutMs?: number }): Promise<ShellResult>;
}

const LEAVING = /^Leaving (?:Gentoo )?Prefix with exit status (\d+)\s*$/;

/** Split startprefix's stdout into the command's output and the status it reported (the last such line). */
export function parseLeaving(stdout: string): { stdout: string; exitStatus: number | undefined } {
  const lines = stdout.split("\n");
  for (let i = lines.length - 1; i >= 0; i--) {
    const m = LEAVING.exec(lines[i]!);
    if (m) {
      lines.splice(i, 1);
      return { stdout: lines.join("\n"), exitStatus: Number(m[1]) };
    }
  }
  return { stdout, exitStatus: undefined };
}

const ALL_STATUSES = Array.from({ length: 256 }, (_, i) => i);
const MAX_PARALLEL = 3;

/** A clean, predictable environment for commands in the layer (the host's would leak into them). */
export function shellEnvironment(): NodeJS.ProcessEnv {
  return {
    HOME: process.env.HOME ?? "/root",
    USER: process.env.USER ?? "root",
    LOGNAME: process.env.LOGNAME ?? process.env.USER ?? "root",
    PATH: "/usr/local/bin:/usr/bin:/bin",
    TERM: "dumb",
    LANG: "C",
  };
}

export function startprefixShell(target: LayerTarget, fs: LayerFs): PrefixShell {
  const startprefix = `${target.prefix}/startprefix`;
  let running = 0;
  const waiting: (() => void)[] = [];
  const acquire = async (): Promise<void> => {
    if (running < MAX_PARALLEL) {
      running++;
      return;
    }
    await new Promise<void>((resolve) => waiting.push(resolve));
  };
  const release = (): void => {
    const next = waiting.shift();
    if (next) next();
    else running--;
  };

  let reason: Promise<string | undefined> | undefined;
  const unavailable = (): Promise<string | undefined> => {
    reason ??= (async () => {
      const r = fs.resolve(startprefix);
      if (!r.ok || !r.stat.isFile()) return `${startprefix} does not exist`;
      if ((Number(r.stat.mode) & 0o111) === 0) return `${startprefix} is not executable`;
      const here = emulationFor(target.arch);
      if (!here.runnable) return `the layer is for ${target.arch}: ${here.problem} (fix: ${here.hint})`;
      return undefined;
    })();
    return reason;
  };

  return {
    unavailable,
    async run(command, opts = {}) {
      const why = await unavailable();
      if (why) throw new Error(`cannot run commands in the layer: ${why}`);
      await acquire();
      try {
        const input = `${command}\n`;
        const common = {
          input,
          env: shellEnvironment(),
          okStatuses: ALL_STATUSES,
          timeoutMs: opts.timeoutMs ?? 120_000,
        };
        let result: RunResult;
        let invocation: string;
        if (target.mount) {
          invocation = `sandbox (layer at ${target.prefix}${target.buildRoot ? `, / from the build root ${target.buildRoot}` : ""}): ${startprefix} <<< ${JSON.stringify(command)}`;
          result = await runInLayer(target.mount, [startprefix], {
            ...common,
            readOnlyLayer: true,
            network: false,
            cwd: "/",
            root: target.buildRoot,
          });
        } else {
          invocation = `${startprefix} <<< ${JSON.stringify(command)}`;
          result = await run(startprefix, [], { ...common, cwd: "/" });
        }
        const parsed = parseLeaving(result.stdout);
        return {
          command,
          invocation,
          exitStatus: parsed.exitStatus,
          processStatus: result.status,
          stdout: parsed.stdout,
          stderr: result.stderr,
          durationMs: result.durationMs,
        };
      } finally {
        release();
      }
    },
  };
}

/** The last lines of a command's output, for evidence. */
export function outputTail(r: Pick<ShellResult, "stdout" | "stderr">, lines = 20): string {
  const text = [r.stdout.trimEnd(), r.stderr.trimEnd()].filter(Boolean).join("\n");
  return text.split("\n").slice(-lines).join("\n");
}
