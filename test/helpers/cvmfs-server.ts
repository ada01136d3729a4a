/**
 * A real CernVM-FS 2.12 stratum 0 for tests: `../shared/tools/cvmfs/install.sh` (Debian packages,
 * the server and client built from source, Apache started: CI is a clean Debian 12 with no
 * services and no systemd as PID 1), then a throwaway repository per test file with a name of its
 * own (never one the host has), removed with `cvmfs_server rmfs -f` afterwards.
 *
 *   const unavailable = await cvmfsUnavailable();      // a reason to skip, or undefined
 *   const repo = await makeTestRepository("real");     // /cvmfs/real-1a2b3c4d.compat.test
 *   …
 *   await repo.remove();
 *
 * Tests skip only when this machine cannot run a stratum 0 at all (not root, not x86_64, no
 * /dev/fuse, no overlayfs); anything else that fails here fails the test.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { promisify } from "node:util";

const exec = promisify(execFile);
const INSTALL = resolve(import.meta.dirname, "../../../shared/tools/cvmfs/install.sh");

export interface TestRepository {
  name: string;
  /** /cvmfs/<name> */
  root: string;
  /** `cvmfs_server ARGS NAME`; resolves with its output, rejects on a non-zero exit. */
  server(args: string[]): Promise<{ stdout: string; stderr: string }>;
  transactionOpen(): boolean;
  remove(): Promise<void>;
}

let installed: Promise<string | undefined> | undefined;

/** Why this machine cannot run the real server (after installing it when missing), or undefined. */
export function cvmfsUnavailable(): Promise<string | undefined> {
  installed ??= install();
  return installed;
}

async function install(): Promise<string | undefined> {
  if (process.getuid?.() !== 0)
    return "a CernVM-FS stratum 0 needs root (cvmfs_server mkfs, FUSE and overlay mounts)";
  if (process.arch !== "x64")
    return `the CernVM-FS build in ../shared/tools/cvmfs is for x86_64, this is ${process.arch}`;
  if (!existsSync("/dev/fuse"))
    return "no /dev/fuse on this machine (the CernVM-FS client is a FUSE file system)";
  if (!existsSync(INSTALL)) return `${INSTALL} is missing (../shared must resolve to the shared tools)`;
  try {
    // Idempotent: installs what is missing and starts Apache when it is not running.
    await exec(INSTALL, [], { maxBuffer: 1 << 24 });
  } catch (e) {
    const err = e as { code?: number; stderr?: string; stdout?: string };
    const said = `${err.stderr ?? ""}${err.stdout ?? ""}`.trim();
    // install.sh exits 4 only for what the machine lacks (root, arch, /dev/fuse, overlayfs).
    if (err.code === 4) return said || "install.sh says this machine cannot run it";
    throw new Error(`${INSTALL} failed (exit ${err.code}): ${said}`);
  }
  return undefined;
}

const CONFIG = "/etc/cvmfs/repositories.d";
const NAME_RE = /^[a-z]+-p(\d+)-[0-9a-f]{8}\.compat\.test$/;

/** Repositories of test runs that were killed before removing theirs (the pid in the name is gone). */
async function removeAbandoned(): Promise<void> {
  if (!existsSync(CONFIG)) return;
  for (const name of readdirSync(CONFIG)) {
    const pid = NAME_RE.exec(name)?.[1];
    if (pid === undefined || existsSync(`/proc/${pid}`)) continue;
    await exec("cvmfs_server", ["abort", "-f", name]).catch(() => {});
    await exec("cvmfs_server", ["rmfs", "-f", name]).catch(() => {});
  }
}

/** A fresh repository `<tag>-p<pid>-<random>.compat.test`, owned by root. */
export async function makeTestRepository(tag: string): Promise<TestRepository> {
  await removeAbandoned();
  let name: string;
  do name = `${tag}-p${process.pid}-${randomBytes(4).toString("hex")}.compat.test`;
  while (existsSync(join(CONFIG, name)) || existsSync(join("/cvmfs", name)));
  await exec("cvmfs_server", ["mkfs", "-o", "root", name], { maxBuffer: 1 << 24 });
  const server = (args: string[]) => exec("cvmfs_server", [...args, name], { maxBuffer: 1 << 26 });
  return {
    name,
    root: join("/cvmfs", name),
    server,
    transactionOpen: () => existsSync(join("/var/spool/cvmfs", name, "in_transaction.lock")),
    remove: async () => {
      await server(["abort", "-f"]).catch(() => {});
      await server(["rmfs", "-f"]);
    },
  };
}
