/**
 * The reproducibility record, `$EPREFIX/reprod/<YYYYmmdd_HHMMSS>UTC/` (EESSI's reprod.yml):
 *   packages.txt  the installed packages, one per line (gentoo: `qlist -IRv`; debian: name=version)
 *   build.json    what the layer was built from and with: spec hash, suite or pinned commit,
 *                 SOURCE_DATE_EPOCH, tool versions
 *   spec.yaml     the layer spec used
 *   …             flavor extras (gentoo: bootstrap-prefix.sh and its sha256)
 *
 * The record is part of the layer, so it holds only what makes the layer what it is: two builds
 * of the same inputs write the same record, and the stamp is SOURCE_DATE_EPOCH's, not the clock's.
 * Who built it, where and when (user, host, kernel, start and end) is the run's and goes to the run
 * directory (`build-host.json`, RunFacts), as Debian keeps a .buildinfo beside its packages.
 *
 * The record is written to a hidden directory and renamed into place, so a killed build never
 * leaves a half record; writing it again (a resumed run) replaces the record of the same stamp.
 */
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { hostname, release, totalmem, userInfo } from "node:os";
import { join } from "node:path";
import type { RecordedBuildRoot } from "../buildroot/record.js";
import { type Confinement, mkdirInside } from "../paths/inside.js";
import { safeName } from "../paths/rules.js";

export interface BuildRecord {
  /** The layer's identity, so a prefix can be packed (and named) from its record alone. */
  stack: string;
  repository: string;
  version: string;
  os: string;
  flavor: string;
  arch: string;
  prefix: string;
  specHash: string;
  /** debian: the suite; gentoo: the pinned gentoo.git commit. */
  suite?: string;
  gentooCommit?: string;
  /**
   * The build's time (seconds): every timestamp of the layer and the artifact's name. Where it came
   * from is the run's (RunFacts): a rebuild given the same value as SOURCE_DATE_EPOCH is the same layer.
   */
  sourceDateEpoch: number;
  /** What else a rebuild needs to give the same layer (gentoo: overlays, bootstrap script, binhost). */
  inputs?: Record<string, unknown>;
  /**
   * The build root the build ran in (src/buildroot/record.ts): identity, suite, arch, `name=version`
   * packages; absent when it ran on the host's userland.
   */
  buildRoot?: RecordedBuildRoot;
  toolVersions: Record<string, string>;
  compatVersion: string;
}

/** Who built a layer, where and when: the run's facts, kept in the run directory, not in the layer. */
export interface RunFacts {
  runId: string;
  user: string;
  uid: number;
  host: string;
  kernel: string;
  hostOs: string;
  hostMemoryMb: number;
  /** SOURCE_DATE_EPOCH's origin: "environment", "spec" or the derivation ("the Release files of …"). */
  sourceDateEpochFrom: string;
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
  Pick<RunFacts, "user" | "uid" | "host" | "kernel" | "hostOs" | "hostMemoryMb">
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
export async function writeReprod(prefixDir: string | Confinement, content: ReprodContent): Promise<string> {
  const into = typeof prefixDir === "string" ? { base: prefixDir, what: "the build record" } : prefixDir;
  const base = await mkdirInside({ ...into, what: "the build record" }, "reprod");
  const stamp = reprodStamp(new Date(content.record.sourceDateEpoch * 1000));
  for (const e of await readdir(base))
    if (e.startsWith(".") || e === stamp) await rm(join(base, e), { recursive: true, force: true });
  const tmp = join(base, `.${stamp}`);
  await mkdir(tmp);
  await writeFile(join(tmp, "packages.txt"), content.packagesTxt);
  await writeFile(join(tmp, "build.json"), `${JSON.stringify(content.record, null, 2)}\n`);
  await writeFile(join(tmp, "spec.yaml"), content.specText);
  for (const [name, data] of Object.entries(content.extra ?? {}).sort(([a], [b]) => (a < b ? -1 : 1)))
    await writeFile(join(tmp, safeName(name, "a build record file")), data);
  const dir = join(base, stamp);
  await rename(tmp, dir);
  return dir;
}
