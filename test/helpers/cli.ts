/** Running the built CLI (`node dist/cli/bin.js …`) from end-to-end tests. */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";

export const projectRoot = join(import.meta.dirname, "../..");
export const compatBin = join(projectRoot, "dist/cli/bin.js");

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Run `compat ARGS` in `cwd` (default: the project root); `npm run build` must have run. */
export function compat(args: string[], opts: { cwd?: string; input?: string } = {}): CliResult {
  if (!existsSync(compatBin)) throw new Error(`${compatBin} is missing: run npm run build first`);
  const r = spawnSync(process.execPath, [compatBin, ...args], {
    cwd: opts.cwd ?? projectRoot,
    input: opts.input,
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1" },
    maxBuffer: 64 * 1024 * 1024,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export interface AsyncCliOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  input?: string;
  /** Called with each JSON line of stdout (`--json` progress events); may kill the process. */
  onEvent?: (event: Record<string, unknown>, child: ChildProcess) => void;
  /** Called with each line of stderr (progress for people); may kill the process. */
  onStderr?: (line: string, child: ChildProcess) => void;
}

/** Run `compat ARGS` as a child that a test can watch and kill (long builds). */
export function compatAsync(
  args: readonly string[],
  opts: AsyncCliOptions = {},
): Promise<CliResult & { signal: NodeJS.Signals | null }> {
  if (!existsSync(compatBin)) throw new Error(`${compatBin} is missing: run npm run build first`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [compatBin, ...args], {
      cwd: opts.cwd ?? projectRoot,
      env: { ...(opts.env ?? process.env), NO_COLOR: "1" },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    if (opts.onStderr)
      createInterface({ input: child.stderr }).on("line", (line) => {
        stderr += `${line}\n`;
        opts.onStderr?.(line, child);
      });
    else
      child.stderr.on("data", (c: Buffer) => {
        stderr += c.toString();
      });
    createInterface({ input: child.stdout }).on("line", (line) => {
      stdout += `${line}\n`;
      if (!opts.onEvent || !line.startsWith("{")) return;
      let event: Record<string, unknown>;
      try {
        event = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      opts.onEvent(event, child);
    });
    child.on("error", reject);
    child.stdin.end(opts.input ?? "");
    child.on("close", (status, signal) => resolve({ status, signal, stdout, stderr }));
  });
}
