/**
 * Which installed package of a layer a file belongs to: dpkg's file lists
 * (`var/lib/dpkg/info/<package>[:<arch>].list`) for a debian-flavor layer, the vdb's CONTENTS for a
 * Gentoo Prefix. Paths are compared after following the layer's directory links (a merged /usr
 * lists `/lib/x86_64-linux-gnu/libz.so.1`, the loader opens `$EPREFIX/usr/lib/x86_64-linux-gnu/…`),
 * and a file is also found by where its symlinks lead. Read only when a regression asks.
 */
import { existsSync, readdirSync } from "node:fs";
import { join, posix } from "node:path";
import type { LayerFs } from "../checks/layer-fs.js";
import { DPKG_STATUS_PATH, parseDpkgStatus } from "../debian/status.js";
import { readVardb, VDB_PATH } from "../gentoo/vardb.js";
import { readRegularFileSync } from "../paths/regular-file.js";

/** dpkg's status and file lists: a few MB for a whole distribution. */
const MAX_LIST = 64 << 20;

export interface PackageRef {
  /** `zlib1g:amd64`, `sys-libs/zlib`. */
  name: string;
  version?: string;
}

export class PackageOwners {
  private index: Map<string, PackageRef> | undefined;

  constructor(
    private readonly fs: LayerFs,
    private readonly localPrefix: string,
  ) {}

  /** The package that installed `path` (a path in the layer's namespace), if any says so. */
  owner(path: string): PackageRef | undefined {
    const index = this.build();
    const byName = index.get(this.canonical(path));
    if (byName) return byName;
    const r = this.fs.resolve(path);
    return r.ok ? index.get(this.canonical(r.path)) : undefined;
  }

  /** The path with its directory's links followed (not the last component's). */
  private canonical(path: string): string {
    const r = this.fs.resolve(posix.dirname(path));
    return posix.join(r.ok ? r.path : posix.dirname(path), posix.basename(path));
  }

  private build(): Map<string, PackageRef> {
    if (this.index) return this.index;
    const index = new Map<string, PackageRef>();
    const add = (path: string, ref: PackageRef) => {
      const c = this.canonical(path);
      if (!index.has(c)) index.set(c, ref);
    };
    const info = join(this.localPrefix, "var/lib/dpkg/info");
    if (existsSync(join(this.localPrefix, DPKG_STATUS_PATH)) && existsSync(info)) {
      const versions = new Map<string, string>();
      try {
        for (const p of parseDpkgStatus(
          readRegularFileSync(join(this.localPrefix, DPKG_STATUS_PATH), MAX_LIST),
        ).packages) {
          versions.set(`${p.name}:${p.architecture}`, p.version);
          versions.set(p.name, p.version);
        }
      } catch {
        /* versions are extra information */
      }
      for (const f of readdirSync(info)) {
        if (!f.endsWith(".list")) continue;
        const name = f.slice(0, -5);
        const ref = { name, version: versions.get(name) ?? versions.get(name.split(":")[0]!) };
        let text: string;
        try {
          // a candidate's files: a FIFO or a huge file named *.list must not stop the report
          text = readRegularFileSync(join(info, f), MAX_LIST);
        } catch {
          continue;
        }
        for (const line of text.split("\n"))
          if (line.startsWith("/") && line !== "/.") add(posix.join(this.fs.prefix, line), ref);
      }
    } else if (existsSync(join(this.localPrefix, VDB_PATH))) {
      const vardb = readVardb(this.localPrefix);
      for (const p of vardb.packages) {
        const ref = { name: p.cp, version: p.version };
        for (const e of p.contents()) if (e.type === "obj" || e.type === "sym") add(e.path, ref);
      }
    }
    this.index = index;
    return index;
  }
}

export function formatPackage(p: PackageRef | undefined): string {
  if (!p) return "no package of the layer";
  return p.version ? `${p.name} ${p.version}` : p.name;
}
