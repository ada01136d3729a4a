/**
 * The trees bench/delta measures on, and the real package updates it applies to them.
 *
 * Trees are made once with mmdebstrap from Debian bookworm's main suite only (no -updates or
 * -security), so that real updates exist for them, into a scratch dir outside the repository
 * ($COMPAT_BENCH_SCRATCH, default /var/tmp/compat-bench), with the debian flavor's dpkg path filters
 * (no man pages, docs or message catalogs, as in a dev layer): `dev` has examples/dev.yaml's
 * packages, `big` also a compiler toolchain, Python and Perl development files, Lmod, Tcl, Lua,
 * git, locales-all and the usual tools (about the size of an EESSI compat layer, 1–2 GB). Device
 * nodes and setuid bits are removed, as a layer has none.
 *
 * An update is made the way a maintainer makes one, in a copy of the tree run under bubblewrap:
 * `apt-get install --only-upgrade` from bookworm-security or -updates (real security and stable
 * updates: new binaries, dpkg database, apt and dpkg logs, ld.so.cache, triggers), or, for a
 * package with no update in bookworm, trixie's newer upstream version installed with dpkg
 * (--force-depends: the bytes of an upstream version bump, as a Gentoo update ships them).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DANGLING_EXCLUDED_LINKS_HOOK, DPKG_PATH_FILTERS } from "../src/debian/mmdebstrap.js";

export const scratchDir = process.env.COMPAT_BENCH_SCRATCH ?? "/var/tmp/compat-bench";
const LAYER = "versions/2025.06/compat/linux/x86_64";
const MIRROR = "http://deb.debian.org/debian";

export const TREES = {
  dev: "bash,coreutils,python3,perl,make,patch,lmod,locales,file,tar,xz-utils,ca-certificates",
  big: [
    "bash,coreutils,python3,python3-dev,python3-pip,python3-venv,perl,make,patch,lmod,tcl,lua5.3",
    "locales-all,file,tar,xz-utils,zstd,bzip2,ca-certificates,openssl,build-essential,gfortran,g++,gdb",
    "git,curl,wget,openssh-client,rsync,vim-nox,less,man-db,sqlite3,cmake,pkg-config,libssl-dev",
    "zlib1g-dev,libncurses-dev,libreadline-dev,libsqlite3-dev,libffi-dev,libbz2-dev,liblzma-dev",
    "strace,patchelf,unzip,zip,gawk,autoconf,automake,libtool,m4,bison,flex,texinfo",
  ].join(","),
} as const;
export type TreeName = keyof typeof TREES;

export interface Update {
  /** What the row is called. */
  name: string;
  /** Binary packages to upgrade (those the tree has). */
  packages: string[];
  suite: "bookworm-security" | "bookworm-updates" | "trixie";
}

/** The layer prefix of tree `name`, made on first use. */
export function benchLayer(name: TreeName): string {
  const root = join(scratchDir, name);
  const prefix = join(root, LAYER);
  const ready = join(root, ".ready");
  if (existsSync(ready)) return prefix;
  rmSync(root, { recursive: true, force: true });
  mkdirSync(join(prefix, ".."), { recursive: true });
  process.stderr.write(`making the ${name} tree with mmdebstrap in ${prefix} (once)\n`);
  const r = spawnSync(
    "mmdebstrap",
    [
      "--variant=minbase",
      `--include=${TREES[name]}`,
      // As the debian flavor makes a layer: no man pages, docs or message catalogs.
      ...DPKG_PATH_FILTERS.map((f) => `--dpkgopt=${f}`),
      `--customize-hook=${DANGLING_EXCLUDED_LINKS_HOOK}`,
      "bookworm",
      prefix,
      `deb ${MIRROR} bookworm main`,
    ],
    { stdio: ["ignore", "ignore", "inherit"] },
  );
  if (r.status !== 0) throw new Error("mmdebstrap failed");
  strip(prefix);
  writeFileSync(ready, "");
  return prefix;
}

/** What a layer has none of: device nodes, setuid/setgid bits. */
function strip(prefix: string): void {
  execFileSync("sh", [
    "-c",
    `rm -rf '${prefix}'/dev/* && find '${prefix}' -type f -perm /6000 -exec chmod ug-s {} +`,
  ]);
}

const sourceLine = (suite: Update["suite"]) =>
  suite === "bookworm-security"
    ? "deb http://deb.debian.org/debian-security bookworm-security main"
    : `deb ${MIRROR} ${suite} main`;

/** Installed versions of `packages` (default: all) in the tree at `prefix`. */
export function installedVersions(prefix: string, packages: string[] = []): Map<string, string> {
  const r = spawnSync(
    "dpkg-query",
    // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's format, not a template
    [`--admindir=${join(prefix, "var/lib/dpkg")}`, "-W", "-f", "${Package} ${Version}\\n", ...packages],
    { encoding: "utf8" },
  );
  return new Map(
    r.stdout
      .trim()
      .split("\n")
      .filter((l) => l.includes(" ") && !l.endsWith(" "))
      .map((l) => l.split(" ") as [string, string]),
  );
}

/** Apply `update` to the tree at `prefix` (a copy); returns "pkg old → new" for each package that changed. */
export function applyUpdate(prefix: string, update: Update): string[] {
  const before = installedVersions(prefix);
  const packages = update.packages.filter((p) => before.has(p));
  if (packages.length === 0)
    throw new Error(`${update.name}: none of ${update.packages.join(", ")} installed`);
  const install =
    update.suite === "trixie"
      ? `cd /tmp && apt-get download -qq ${packages.map((p) => `${p}/trixie`).join(" ")} && dpkg --force-depends --force-breaks -i /tmp/*.deb`
      : `apt-get install -y -qq --only-upgrade -t ${update.suite} ${packages.join(" ")}`;
  const script = [
    "set -e",
    `echo '${sourceLine(update.suite)}' > /etc/apt/sources.list.d/bench.list`,
    "apt-get update -qq",
    `DEBIAN_FRONTEND=noninteractive ${install}`,
    "rm /etc/apt/sources.list.d/bench.list",
    "apt-get clean",
    "rm -rf /var/lib/apt/lists/*",
  ].join("\n");
  const r = spawnSync(
    "bwrap",
    [
      "--bind",
      prefix,
      "/",
      "--dev",
      "/dev",
      "--proc",
      "/proc",
      "--perms",
      "1777",
      "--tmpfs",
      "/tmp",
      "sh",
      "-c",
      script,
    ],
    { encoding: "utf8", maxBuffer: 1 << 26 },
  );
  if (r.status !== 0) throw new Error(`${update.name}: the update failed:\n${r.stdout}\n${r.stderr}`);
  strip(prefix);
  const after = installedVersions(prefix);
  return [...after]
    .filter(([p, v]) => before.get(p) !== v)
    .map(([p, v]) => `${p} ${before.get(p) ?? "(new)"} → ${v}`);
}

export const UPDATES: Record<TreeName, Update[]> = {
  dev: [
    { name: "libssl3", packages: ["libssl3"], suite: "bookworm-security" },
    { name: "libsqlite3-0", packages: ["libsqlite3-0"], suite: "trixie" },
    { name: "xz-utils", packages: ["xz-utils", "liblzma5"], suite: "bookworm-security" },
    { name: "coreutils", packages: ["coreutils"], suite: "trixie" },
    {
      name: "python3.11",
      packages: ["python3.11", "python3.11-minimal", "libpython3.11-minimal", "libpython3.11-stdlib"],
      suite: "bookworm-security",
    },
  ],
  big: [
    { name: "openssl", packages: ["libssl3", "openssl", "libssl-dev"], suite: "bookworm-security" },
    { name: "xz-utils", packages: ["xz-utils", "liblzma5", "liblzma-dev"], suite: "bookworm-security" },
    {
      name: "python3.11",
      packages: [
        "python3.11",
        "python3.11-minimal",
        "python3.11-dev",
        "python3.11-venv",
        "libpython3.11",
        "libpython3.11-dev",
        "libpython3.11-minimal",
        "libpython3.11-stdlib",
      ],
      suite: "bookworm-security",
    },
    {
      name: "perl",
      packages: ["perl", "perl-base", "perl-modules-5.36", "libperl5.36"],
      suite: "bookworm-security",
    },
    { name: "linux-libc-dev", packages: ["linux-libc-dev"], suite: "bookworm-security" },
    { name: "coreutils", packages: ["coreutils"], suite: "trixie" },
  ],
};
