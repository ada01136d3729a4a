/**
 * The reproducibility record, `$EPREFIX/reprod/<YYYYmmdd_HHMMSS>UTC/` (EESSI's reprod.yml):
 *   packages.txt  the installed packages, one per line (gentoo: `qlist -IRv`; debian: name=version)
 *   build.json    who built it where, from what, with which tools, when
 *   spec.yaml     the layer spec used
 *   …             flavor extras (gentoo: bootstrap-prefix.sh and its sha256)
 *
 * The record is written to a hidden directory and renamed into place, so a killed build never
 * leaves a half record; writing it again for the same run replaces that run's record.
 */
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { hostname, release, totalmem, userInfo } from "node:os";
import { join } from "node:path";
import { type Confinement, mkdirInside } from "../paths/inside.js";
import { safeName } from "../paths/rules.js";

export interface BuildRecord {
  runId: string;
  /** The layer's identity, so a prefix can be packed (and named) from its record alone. */
  stack: string;
  repository: string;
  version: string;
  os: string;
  user: string;
  uid: number;
  host: string;
  kernel: string;
  hostOs: string;
  hostMemoryMb: number;
  flavor: string;
  arch: string;
  prefix: string;
  specHash: string;
  /** debian: the suite; gentoo: the pinned gentoo.git commit. */
  suite?: string;
  gentooCommit?: string;
  toolVersions: Record<string, string>;
  compatVersion: string;
  start: string;
  end: string;
}

/** `20250611_093012UTC`, as EESSI names its reprod directories. */
export function reprodStamp(d: Date): string {
  const iso = d.toISOString();
  return `${iso.slice(0, 10).replaceAll("-", "")}_${iso.slice(11, 19).replaceAll(":", "")}UTC`;
}

/** The host OS as /etc/os-release names it (PRETTY_NAME), e.g. "Debian GNU/Linux 12 (bookworm)". */
export async function hostOs(osRelease = "/etc/os-release"): Promise<string> {
  try {
    const text = await readFile(osRelease, "utf8");
    const m = /^PRETTY_NAME=("?)(.*)\1$/m.exec(text);
    return m?.[2] ?? "unknown";
  } catch {
    return "unknown";
  }
}

/** Facts about this machine and user for build.json. */
export async function hostFacts(): Promise<
  Pick<BuildRecord, "user" | "uid" | "host" | "kernel" | "hostOs" | "hostMemoryMb">
> {
  const u = userInfo();
  return {
    user: u.username,
    uid: u.uid,
    host: hostname(),
    kernel: release(),
    hostOs: await hostOs(),
    hostMemoryMb: Math.round(totalmem() / 2 ** 20),
  };
}

export interface ReprodContent {
  record: BuildRecord;
  packagesTxt: string;
  specText: string;
  /** Extra files by name (e.g. bootstrap-prefix.sh). */
  extra?: Record<string, string | Buffer>;
}

/**
 * Write the record; returns its directory. `prefixDir` may be a Confinement (the prefix being built,
 * seen at its prefix path): `reprod/` is then resolved inside it, never through a link out of it.
 */
export async function writeReprod(
  prefixDir: string | Confinement,
  content: ReprodContent,
  now: Date = new Date(),
): Promise<string> {
  const into = typeof prefixDir === "string" ? { base: prefixDir, what: "the build record" } : prefixDir;
  const base = await mkdirInside({ ...into, what: "the build record" }, "reprod");
  for (const e of await readdir(base)) {
    if (e.startsWith(".")) await rm(join(base, e), { recursive: true, force: true });
    else if (await recordOfRun(join(base, e), content.record.runId))
      await rm(join(base, e), { recursive: true });
  }
  const stamp = reprodStamp(now);
  const tmp = join(base, `.${stamp}`);
  await mkdir(tmp);
  await writeFile(join(tmp, "packages.txt"), content.packagesTxt);
  await writeFile(join(tmp, "build.json"), `${JSON.stringify(content.record, null, 2)}\n`);
  await writeFile(join(tmp, "spec.yaml"), content.specText);
  for (const [name, data] of Object.entries(content.extra ?? {}))
    await writeFile(join(tmp, safeName(name, "a build record file")), data);
  const dir = join(base, stamp);
  await rename(tmp, dir);
  return dir;
}

async function recordOfRun(dir: string, runId: string): Promise<boolean> {
  try {
    const r = JSON.parse(await readFile(join(dir, "build.json"), "utf8")) as Partial<BuildRecord>;
    return r.runId === runId;
  } catch {
    return false;
  }
}
