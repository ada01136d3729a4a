/**
 * Shared by bench/pack.ts and bench/delta.ts: the layer tree to measure on, and timing of a
 * command with its peak resident memory (GNU time's %M: the largest process of the command).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";

export const projectRoot = join(import.meta.dirname, "..");
export const compatBin = join(projectRoot, "dist/cli/bin.js");
export const benchDir = join(projectRoot, ".bench");

export interface Measured {
  seconds: number;
  peakRssMiB: number;
}

/** Run `argv` under GNU time; throws with its stderr when it fails. */
export function measure(argv: string[], env: NodeJS.ProcessEnv = process.env): Measured {
  if (!existsSync("/usr/bin/time")) throw new Error("GNU time is missing: apt-get install time");
  const r = spawnSync("/usr/bin/time", ["-f", "%e %M", ...argv], {
    encoding: "utf8",
    env,
    maxBuffer: 1 << 26,
  });
  const last = r.stderr.trim().split("\n").pop() ?? "";
  if (r.status !== 0) throw new Error(`${argv.join(" ")} failed (${r.status}):\n${r.stderr.slice(-2000)}`);
  const [seconds, kib] = last.split(" ").map(Number);
  return { seconds: seconds!, peakRssMiB: kib! / 1024 };
}

/**
 * The tree to measure: the directory given on the command line (a layer prefix ending in
 * <version>/compat/<os>/<arch>), or a Debian bookworm tree with examples/dev.yaml's packages made
 * once with mmdebstrap into .bench/ (device nodes and setuid bits removed, as a layer has none).
 */
export function benchTree(arg: string | undefined): string {
  if (arg) return arg;
  const prefix = join(benchDir, "tree/versions/2025.06/compat/linux/x86_64");
  if (!existsSync(join(prefix, "usr/bin"))) {
    mkdirSync(join(prefix, ".."), { recursive: true });
    process.stderr.write(`making the bench tree with mmdebstrap in ${prefix} (once)\n`);
    const packages = "bash,coreutils,python3,perl,make,patch,lmod,locales,file,tar,xz-utils,ca-certificates";
    const r = spawnSync("mmdebstrap", ["--variant=minbase", `--include=${packages}`, "bookworm", prefix], {
      stdio: ["ignore", "ignore", "inherit"],
    });
    if (r.status !== 0) throw new Error("mmdebstrap failed");
    spawnSync("sh", [
      "-c",
      `rm -rf '${prefix}'/dev/* && find '${prefix}' -type f -perm /6000 -exec chmod ug-s {} +`,
    ]);
  }
  return prefix;
}

export function treeStats(dir: string): { files: number; bytes: number } {
  const r = spawnSync(
    "sh",
    ["-c", `find '${dir}' -type f -printf '%s\\n' | awk '{n++; s+=$1} END {print n, s}'`],
    {
      encoding: "utf8",
    },
  );
  const [files, bytes] = r.stdout.trim().split(" ").map(Number);
  return { files: files!, bytes: bytes! };
}

export const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;

/** The last file in `dir` (by name) whose name ends with `suffix`: the artifact a pack just wrote. */
export const newest = (dir: string, suffix: string) =>
  join(
    dir,
    readdirSync(dir)
      .filter((n) => n.endsWith(suffix))
      .sort()
      .pop()!,
  );
