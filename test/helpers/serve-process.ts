/**
 * `compat serve` as a user runs it: the built CLI as a child process, listening on a free port of
 * 127.0.0.1; its URL is read from the line it logs when it listens.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { compatBin } from "./cli.js";

export interface ServeProcess {
  child: ChildProcess;
  url: string;
  /** Everything it wrote on stderr so far. */
  stderr(): string;
  /** Resolves with its exit code (or signal) when it has exited (and was reaped). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export async function startServe(
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv = {},
): Promise<ServeProcess> {
  const child = spawn(process.execPath, [compatBin, "serve", "--listen", "127.0.0.1:0", ...args], {
    cwd,
    env: { ...process.env, NO_COLOR: "1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let err = "";
  child.stderr!.on("data", (c: Buffer) => {
    err += c.toString("utf8");
  });
  child.stdout!.resume();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal })),
  );
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`compat serve did not start in 60 s:\n${err}`)), 60_000);
    const look = () => {
      const m = /compat serve: (http:\/\/127\.0\.0\.1:\d+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stderr!.on("data", look);
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`compat serve exited (${code}) before listening:\n${err}`));
    });
  });
  return { child, url, stderr: () => err, exited };
}
