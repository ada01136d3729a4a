import { describe, expect, it } from "vitest";
import {
  type DynamicObject,
  distinctDirs,
  loadClosure,
  loadLinkMap,
  type ProbeResult,
  SearchCache,
  searchDirs,
} from "./ld-search.js";

/** A fake file system of ELF objects: path → object (with its real path and identity). */
function world(objects: Record<string, Partial<DynamicObject> & { real?: string; bad?: string }>) {
  const probe = (path: string): ProbeResult => {
    const o = objects[path];
    if (!o) return { kind: "missing" };
    if (o.bad) return { kind: "incompatible", why: o.bad };
    const real = o.real ?? path;
    return {
      kind: "object",
      realPath: real,
      key: real,
      object: { path, origin: path.slice(0, path.lastIndexOf("/")), needed: [], ...o },
    };
  };
  return probe;
}

const obj = (path: string, more: Partial<DynamicObject> = {}): DynamicObject => ({
  path,
  origin: path.slice(0, path.lastIndexOf("/")),
  needed: [],
  ...more,
});

describe("searchDirs (glibc dl-load.c order)", () => {
  it("uses the object's RPATH, then its loaders' RPATH, then the system dirs", () => {
    const exe = obj("/p/bin/exe", { rpath: "/p/lib" });
    const lib = obj("/p/lib/liba.so", { rpath: "/p/lib/a" });
    expect(searchDirs(lib, [exe], ["/sys1"]).map((d) => `${d.source} ${d.dir}`)).toEqual([
      "RPATH /p/lib/a",
      "RPATH /p/lib",
      "system /sys1",
    ]);
  });

  it("ignores every RPATH when the object has a RUNPATH, and RUNPATH is not inherited", () => {
    const exe = obj("/p/bin/exe", { rpath: "/p/exe-rpath", runpath: "/p/exe-runpath" });
    const lib = obj("/p/lib/liba.so", { runpath: "/p/liba-runpath", rpath: "/p/liba-rpath" });
    expect(searchDirs(lib, [exe], []).map((d) => d.dir)).toEqual(["/p/liba-runpath"]);
    const plain = obj("/p/lib/libb.so", { rpath: "/p/libb-rpath" });
    // The executable has a RUNPATH, so its RPATH is ignored for its dependents too; its RUNPATH is not inherited.
    expect(searchDirs(plain, [exe], []).map((d) => d.dir)).toEqual(["/p/libb-rpath"]);
  });

  it("expands $ORIGIN and its braced form to the object's directory", () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the loader's own ${ORIGIN} token
    const lib = obj("/p/lib/gconv/EUC-KR.so", { runpath: "$ORIGIN:${ORIGIN}/../x" });
    expect(searchDirs(lib, [], []).map((d) => d.dir)).toEqual(["/p/lib/gconv", "/p/lib/gconv/../x"]);
  });
});

describe("loadClosure", () => {
  it("finds libraries through the executable's RPATH for its indirect dependencies", () => {
    const probe = world({
      "/p/lib/liba.so.1": { needed: ["libb.so.1"] },
      "/p/lib/libb.so.1": {},
    });
    const exe = obj("/p/bin/exe", { needed: ["liba.so.1"], rpath: "/p/lib" });
    const lookups = loadClosure({ object: exe, key: "exe" }, probe, []);
    expect(lookups.map((l) => [l.needed, l.found?.path])).toEqual([
      ["liba.so.1", "/p/lib/liba.so.1"],
      ["libb.so.1", "/p/lib/libb.so.1"],
    ]);
  });

  it("does not inherit RPATH across an object with RUNPATH", () => {
    const probe = world({
      "/p/lib/liba.so.1": { needed: ["libb.so.1"], runpath: "/p/nowhere" },
      "/p/lib/libb.so.1": {},
    });
    const exe = obj("/p/bin/exe", { needed: ["liba.so.1"], rpath: "/p/lib" });
    const [a, b] = loadClosure({ object: exe, key: "exe" }, probe, ["/host/lib"]);
    expect(a!.found?.path).toBe("/p/lib/liba.so.1");
    expect(b!.found).toBeUndefined();
    expect(b!.tried.map((t) => `${t.source} ${t.dir}`)).toEqual(["RUNPATH /p/nowhere", "system /host/lib"]);
  });

  it("falls through to the system dirs and reports where it was found", () => {
    const probe = world({ "/host/lib/libc.so.6": {} });
    const exe = obj("/p/bin/exe", { needed: ["libc.so.6"], rpath: "/p/lib" });
    const [l] = loadClosure({ object: exe, key: "exe" }, probe, ["/host/lib"]);
    expect(l!.found).toMatchObject({
      path: "/host/lib/libc.so.6",
      via: { source: "system", dir: "/host/lib" },
    });
  });

  it("skips a candidate of the wrong class and keeps searching", () => {
    const probe = world({ "/p/lib32/libz.so.1": { bad: "ELF32 i386" }, "/p/lib/libz.so.1": {} });
    const exe = obj("/p/bin/exe", { needed: ["libz.so.1"], rpath: "/p/lib32:/p/lib" });
    const [l] = loadClosure({ object: exe, key: "exe" }, probe, []);
    expect(l!.found?.path).toBe("/p/lib/libz.so.1");
    expect(l!.rejected).toEqual([{ path: "/p/lib32/libz.so.1", why: "ELF32 i386" }]);
  });

  it("treats a name already loaded (as the interpreter's SONAME) as satisfied", () => {
    const probe = world({ "/p/lib/libc.so.6": { needed: ["ld-linux-x86-64.so.2"] } });
    const ld = obj("/p/lib64/ld-linux-x86-64.so.2", { soname: "ld-linux-x86-64.so.2" });
    const exe = obj("/p/bin/exe", { needed: ["libc.so.6"], rpath: "/p/lib" });
    const lookups = loadClosure({ object: exe, key: "exe" }, probe, [], [{ object: ld, key: "ld" }]);
    expect(lookups[1]).toMatchObject({ needed: "ld-linux-x86-64.so.2", found: { via: "loaded" } });
  });

  it("loads a file reached under two names once", () => {
    const probe = world({
      "/p/lib/liba.so.1": { needed: ["libc.so.6"], real: "/p/lib/liba.so.1.2" },
      "/p/lib/liba.so": { needed: ["libc.so.6"], real: "/p/lib/liba.so.1.2" },
      "/p/lib/libc.so.6": {},
    });
    const exe = obj("/p/bin/exe", { needed: ["liba.so.1", "liba.so"], rpath: "/p/lib" });
    const lookups = loadClosure({ object: exe, key: "exe" }, probe, []);
    // liba twice (two names, one file), libc once: the second name adds no new object.
    expect(lookups.map((l) => l.needed)).toEqual(["liba.so.1", "liba.so", "libc.so.6"]);
  });

  it("opens names with a slash as paths and rejects relative search dirs", () => {
    const probe = world({ "/p/lib/libx.so": {} });
    const exe = obj("/p/bin/exe", { needed: ["/p/lib/libx.so", "liby.so"], rpath: "lib" });
    const [x, y] = loadClosure({ object: exe, key: "exe" }, probe, []);
    expect(x!.found).toMatchObject({ path: "/p/lib/libx.so", via: "path" });
    expect(y!.found).toBeUndefined();
    expect(y!.rejected[0]!.why).toContain("relative");
  });

  it("gives the symbol lookup scope: the root, then each object as a DT_NEEDED first reaches it", () => {
    const probe = world({
      "/p/lib/liba.so": { needed: ["libc.so.6", "libb.so"] },
      "/p/lib/libb.so": { needed: ["libc.so.6"] },
      "/p/lib/libc.so.6": { needed: ["ld-linux-x86-64.so.2"] },
      "/p/lib/libunused.so": {},
    });
    const ld = obj("/p/lib64/ld-linux-x86-64.so.2", { soname: "ld-linux-x86-64.so.2" });
    const exe = obj("/p/bin/exe", { needed: ["liba.so", "libc.so.6"], rpath: "/p/lib" });
    const map = loadLinkMap({ object: exe, key: "exe" }, probe, [], [{ object: ld, key: "ld" }]);
    expect(map.scope.map((s) => s.object.path)).toEqual([
      "/p/bin/exe",
      "/p/lib/liba.so",
      "/p/lib/libc.so.6",
      "/p/lib/libb.so",
      "/p/lib64/ld-linux-x86-64.so.2",
    ]);
    expect(map.lookups.every((l) => l.found?.key !== undefined)).toBe(true);
    // without a library that needs it, the preloaded interpreter is not in the scope
    const alone = loadLinkMap(
      { object: obj("/p/bin/static-ish"), key: "s" },
      probe,
      [],
      [{ object: ld, key: "ld" }],
    );
    expect(alone.scope.map((s) => s.key)).toEqual(["s"]);
  });
});

describe("SearchCache (searches remembered across link maps)", () => {
  const probe = world({
    "/p/lib/liba.so": { needed: ["libb.so", "libgone.so"], rpath: "/p/lib" },
    "/p/lib/libb.so": { needed: ["libc.so.6"], runpath: "/p/other" },
    "/host/lib/libc.so.6": {},
    "/p/lib32/libb.so": { bad: "ELF32 i386" },
  });

  it("gives every link map what a fresh search gives, owners of the directories included", () => {
    const cache = new SearchCache();
    const roots = [
      obj("/p/bin/one", { needed: ["liba.so", "libb.so"], rpath: "/p/lib32:/p/lib" }),
      obj("/p/bin/two", { needed: ["liba.so"], rpath: "/p/lib32:/p/lib" }),
      obj("/q/bin/three", { needed: ["libb.so", "liba.so"], rpath: "/p/lib32:/p/lib" }),
      obj("/q/bin/four", { needed: ["libgone.so", "liba.so"], runpath: "/p/lib" }),
    ];
    for (const [i, root] of roots.entries()) {
      const shared = loadLinkMap({ object: root, key: `r${i}` }, probe, ["/host/lib"], [], cache);
      const fresh = loadLinkMap({ object: root, key: `r${i}` }, probe, ["/host/lib"]);
      expect(shared).toEqual(fresh);
    }
    const three = loadLinkMap({ object: roots[2]!, key: "r2" }, probe, ["/host/lib"], [], cache);
    // the inherited RPATH dirs name the loader they came from, not the first root that searched them
    const gone = three.lookups.find((l) => l.needed === "libgone.so")!;
    expect(gone.found).toBeUndefined();
    expect(gone.tried.map((t) => `${t.source} ${t.dir} ${t.owner ?? ""}`)).toEqual([
      "RPATH /p/lib /p/lib/liba.so",
      "RPATH /p/lib32 /q/bin/three",
      "RPATH /p/lib /q/bin/three",
      "system /host/lib ",
    ]);
  });

  it("shares one list of the directories tried between lookups that tried the same; people read each directory once", () => {
    const cache = new SearchCache();
    const root = obj("/q/bin/three", { needed: ["libb.so", "liba.so"], rpath: "/p/lib32:/p/lib" });
    const a = loadLinkMap({ object: root, key: "r" }, probe, ["/host/lib"], [], cache);
    const b = loadLinkMap({ object: root, key: "r" }, probe, ["/host/lib"], [], cache);
    const gone = (m: typeof a) => m.lookups.find((l) => l.needed === "libgone.so")!;
    expect(gone(b).tried).toBe(gone(a).tried);
    expect(Object.isFrozen(gone(a).tried)).toBe(true);
    // /p/lib is liba's RPATH and again its loader's: searched twice, said once, where it came first
    expect(distinctDirs(gone(a).tried).map((t) => `${t.source} ${t.dir} ${t.owner ?? ""}`)).toEqual([
      "RPATH /p/lib /p/lib/liba.so",
      "RPATH /p/lib32 /q/bin/three",
      "system /host/lib ",
    ]);
  });

  it("does not remember a provisional miss (a file its caller has not read yet)", () => {
    const cache = new SearchCache();
    let ready = false;
    const late = (path: string): ProbeResult =>
      path === "/p/lib/libz.so.1" && !ready ? { kind: "missing", provisional: true } : probe2(path);
    const probe2 = world({ "/p/lib/libz.so.1": {} });
    const root = obj("/p/bin/z", { needed: ["libz.so.1"], rpath: "/p/lib" });
    expect(loadLinkMap({ object: root, key: "z" }, late, [], [], cache).lookups[0]!.found).toBeUndefined();
    ready = true;
    expect(loadLinkMap({ object: root, key: "z" }, late, [], [], cache).lookups[0]!.found?.path).toBe(
      "/p/lib/libz.so.1",
    );
  });
});
