/**
 * Every library every ELF object of the layer needs is found inside the prefix (or a glibc
 * trusted dir) by the loader's own search rules (ld-search.ts), so no program maps a host library.
 */
import { closeSync, openSync, readSync } from "node:fs";
import { posix } from "node:path";
import { type ElfInfo, isElfHeader, machineArch } from "../../layer/elf.js";
import type { ElfIndex, ElfObject } from "../elf-index.js";
import { isUnder } from "../layer-fs.js";
import {
  type DynamicObject,
  distinctDirs,
  type Lookup,
  loadClosure,
  type Probe,
  type ProbeResult,
} from "../ld-search.js";
import { type Check, type CheckContext, capped, fail, pass } from "../types.js";
import { ALL_VERSIONS } from "../versions.js";

/** Read just enough of a host file to tell whether the loader would accept it. */
function hostElfHeader(local: string): { bits: number; machine: number } | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(local, "r");
    const buf = Buffer.alloc(20);
    if (readSync(fd, buf, 0, 20, 0) < 20 || !isElfHeader(buf)) return undefined;
    const le = buf[5] === 1;
    return { bits: buf[4] === 2 ? 64 : 32, machine: le ? buf.readUInt16LE(18) : buf.readUInt16BE(18) };
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export function dynamicObject(path: string, info: ElfInfo): DynamicObject {
  return {
    path,
    origin: posix.dirname(path),
    needed: info.needed,
    rpath: info.rpath,
    runpath: info.runpath,
    soname: info.soname,
  };
}

function describeArch(bits: number, machine: number): string {
  return `ELF${bits} ${machineArch(machine) ?? `machine ${machine}`}`;
}

/** What the loader finds at a path, for programs of one ELF class and machine. */
function layerProbe(ctx: CheckContext, elf: ElfIndex, bits: number, machine: number): Probe {
  const cache = new Map<string, ProbeResult>();
  return (path) => {
    const hit = cache.get(path);
    if (hit) return hit;
    let result: ProbeResult;
    const r = ctx.fs.resolve(path);
    if (!r.ok || r.stat.isDirectory()) result = { kind: "missing" };
    else if (!r.stat.isFile()) result = { kind: "incompatible", why: "not a regular file" };
    else {
      const key = `${r.stat.dev}:${r.stat.ino}`;
      if (ctx.fs.inPrefix(r.path)) {
        const o = elf.byRel.get(ctx.fs.rel(r.path));
        if (!o) result = { kind: "incompatible", why: "not an ELF object" };
        else if (o.info.bits !== bits || o.info.machine !== machine)
          result = { kind: "incompatible", why: describeArch(o.info.bits, o.info.machine) };
        else result = { kind: "object", object: dynamicObject(path, o.info), realPath: r.path, key };
      } else {
        const h = hostElfHeader(r.local);
        if (!h) result = { kind: "incompatible", why: "not an ELF object" };
        else if (h.bits !== bits || h.machine !== machine)
          result = { kind: "incompatible", why: describeArch(h.bits, h.machine) };
        // A host object's own dependencies are the host's business: the leak is already found.
        else
          result = {
            kind: "object",
            object: { path, origin: posix.dirname(path), needed: [] },
            realPath: r.path,
            key,
          };
      }
    }
    cache.set(path, result);
    return result;
  };
}

export interface LibraryProblem {
  /** The object (relative to the prefix) whose DT_NEEDED or search path is at fault. */
  object: string;
  line: string;
}

function describeSearch(l: Lookup, prefix: string): string {
  const short = (d: string) => (isUnder(d, prefix) ? `$EPREFIX${d.slice(prefix.length)}` : d);
  return (
    distinctDirs(l.tried)
      .map((t) => `${t.source} ${short(t.dir)}`)
      .join(", ") || "nothing"
  );
}

/** Every DT_NEEDED that does not resolve inside the prefix or a trusted dir, and every search path entry leaving the layer. */
export async function libraryProblems(
  ctx: CheckContext,
): Promise<{ problems: LibraryProblem[]; roots: number; lookups: number }> {
  const [elf, loader] = await Promise.all([ctx.elf(), ctx.loader()]);
  const trusted = ctx.target.trustedDirs ?? [];
  const okPlace = (opened: string, real: string) =>
    ctx.fs.inPrefix(real) || trusted.some((d) => isUnder(opened, d));
  const problems = new Map<string, LibraryProblem>();
  const add = (object: string, line: string) => {
    if (!problems.has(line)) problems.set(line, { object, line });
  };

  const loaderR = ctx.fs.resolve(loader.path);
  const loaderObj = loaderR.ok ? elf.byRel.get(ctx.fs.rel(loaderR.path)) : undefined;
  const preloaded =
    loaderObj && loaderR.ok
      ? [
          {
            object: dynamicObject(loader.path, loaderObj.info),
            key: `${loaderR.stat.dev}:${loaderR.stat.ino}`,
          },
        ]
      : [];

  const probes = new Map<string, Probe>();
  const probeFor = (o: ElfObject) => {
    const k = `${o.info.bits}:${o.info.machine}`;
    let p = probes.get(k);
    if (!p) {
      p = layerProbe(ctx, elf, o.info.bits, o.info.machine);
      probes.set(k, p);
    }
    return p;
  };

  let roots = 0;
  let lookups = 0;
  for (const o of elf.objects) {
    if (!o.info.dynamic) continue;
    const path = ctx.fs.abs(o.rel);
    // Search path entries that leave the layer: a risk on any host, even where nothing is found there.
    for (const [tag, value] of [
      ["RPATH", o.info.rpath],
      ["RUNPATH", o.info.runpath],
    ] as const) {
      if (value === undefined) continue;
      for (const raw of value.split(":")) {
        const dir = raw.replace(/\$\{ORIGIN\}|\$ORIGIN/g, posix.dirname(path));
        if (raw === "") add(o.rel, `${o.rel}: ${tag} ${value} has an empty entry (the working directory)`);
        else if (!dir.startsWith("/"))
          add(o.rel, `${o.rel}: ${tag} entry ${raw} is relative to the working directory`);
        else if (!ctx.fs.inPrefix(posix.normalize(dir)) && !trusted.some((d) => isUnder(dir, d)))
          add(o.rel, `${o.rel}: ${tag} entry ${raw} is outside the prefix`);
      }
    }
    if (o.info.needed.length === 0) continue;
    roots++;
    const r = ctx.fs.resolve(path);
    const key = r.ok ? `${r.stat.dev}:${r.stat.ino}` : o.entry.inode;
    const closure = loadClosure(
      { object: dynamicObject(path, o.info), key },
      probeFor(o),
      loader.searchDirs,
      preloaded,
    );
    lookups += closure.length;
    for (const l of closure) {
      if (l.found?.via === "loaded") continue;
      const byReal = ctx.fs.resolve(l.by);
      const by = ctx.fs.rel(byReal.ok ? byReal.path : l.by);
      if (!l.found) {
        const rejected =
          l.rejected.length > 0
            ? `; rejected ${l.rejected.map((x) => `${x.path} (${x.why})`).join(", ")}`
            : "";
        add(
          by,
          `${by}: needs ${l.needed}: not found (searched ${describeSearch(l, ctx.target.prefix)})${rejected}`,
        );
      } else if (!okPlace(l.found.path, l.found.realPath)) {
        const via =
          typeof l.found.via === "string" ? l.found.via : `${l.found.via.source} ${l.found.via.dir}`;
        const real = l.found.realPath === l.found.path ? "" : ` → ${l.found.realPath}`;
        add(by, `${by}: needs ${l.needed}: found outside the prefix at ${l.found.path}${real} (via ${via})`);
      }
    }
  }
  return { problems: [...problems.values()], roots, lookups };
}

export const elfLibraries: Check = {
  id: "elf-libraries",
  title: "Every needed library resolves inside the prefix",
  proves:
    "for every ELF object, each DT_NEEDED library is found by the loader's rules (RPATH of the object and its loaders, RUNPATH, $ORIGIN, the loader's own dirs) inside the prefix or its glibc trusted dirs, and no RPATH/RUNPATH entry points outside",
  versions: ALL_VERSIONS,
  async run(ctx) {
    const loader = await ctx.loader();
    const { problems, roots, lookups } = await libraryProblems(ctx);
    const evidence = {
      read: [`${roots} ELF objects with DT_NEEDED under ${ctx.target.prefix}`],
      ran: [loader.source],
      expected: `every DT_NEEDED found inside ${ctx.target.prefix}${
        (ctx.target.trustedDirs ?? []).length > 0
          ? ` or the trusted dirs ${ctx.target.trustedDirs!.join(":")}`
          : ""
      }; loader dirs after RPATH/RUNPATH: ${loader.searchDirs.join(":") || "none"}`,
    };
    if (problems.length === 0)
      return pass({
        ...evidence,
        found: `${lookups} library lookups from ${roots} objects, all inside the prefix`,
      });
    const files = [...new Set(problems.map((p) => ctx.fs.abs(p.object)))];
    return fail({
      ...evidence,
      found: `${problems.length} problem${problems.length === 1 ? "" : "s"} in ${files.length} object${files.length === 1 ? "" : "s"}`,
      files,
      details: capped(
        problems.map((p) => p.line),
        100,
      ),
    });
  },
};
