/** Running the built CLI (`node dist/cli/bin.js …`) from end-to-end tests. */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";

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
