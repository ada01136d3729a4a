/**
 * A small software layer built on the development layer, as a software stack is built on a
 * compatibility layer: programs compiled here by the host's gcc/g++ against the layer's glibc and
 * libraries (PT_INTERP the layer's loader, RPATH the stack's and the layer's library dirs, linked
 * against the layer's libz, libcrypto and libstdc++), a library of the stack itself used through
 * `$ORIGIN`, and tools from real Debian packages (zstd, pigz) extracted with dpkg-deb and relocated
 * onto the layer with patchelf. Built once per development layer into `.cache/impact/`.
 *
 *   const sw = await softwareLayer(dev);
 *   sw.local   // the tree here;  sw.at: where programs see it (/cvmfs/…/versions/2025.06/software/linux/x86_64)
 *   sw.programs.zcrc   // "bin/zcrc" (needs ZLIB_1.2.12 from libz.so.1)
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { readElf } from "../../src/layer/elf.js";
import { debianPackages } from "./debian-packages.js";
import type { DevLayer } from "./dev-layer.js";

const PROJECT = resolve(import.meta.dirname, "../..");

export interface SoftwareLayer {
  local: string;
  at: string;
  /** Executables by name → path relative to the tree; each exits 0 when it runs. */
  programs: Record<string, string>;
  /** Arguments that make a program exit 0 at once (the Debian tools). */
  args: Record<string, string[]>;
}

const SOURCES: Record<string, { file: string; text: string; libs: string[]; cxx?: boolean }> = {
  hello: {
    file: "hello.c",
    text: '#include <stdio.h>\nint main(void) { printf("hello from the software layer\\n"); return 0; }\n',
    libs: [],
  },
  // crc32_combine_gen came with zlib 1.2.12 (version node ZLIB_1.2.12)
  zcrc: {
    file: "zcrc.c",
    text: [
      "#include <stdio.h>",
      "unsigned long crc32_combine_gen(long len2);",
      "unsigned long crc32_combine_op(unsigned long a, unsigned long b, unsigned long op);",
      'int main(void) { printf("%lx\\n", crc32_combine_op(1, 2, crc32_combine_gen(3))); return 0; }',
    ].join("\n"),
    libs: ["-l:libz.so.1"],
  },
  zver: {
    file: "zver.c",
    text: '#include <stdio.h>\nconst char *zlibVersion(void);\nint main(void) { printf("zlib %s\\n", zlibVersion()); return 0; }\n',
    libs: ["-l:libz.so.1"],
  },
  sslver: {
    file: "sslver.c",
    text: '#include <stdio.h>\nunsigned long OpenSSL_version_num(void);\nint main(void) { printf("%lx\\n", OpenSSL_version_num()); return 0; }\n',
    libs: ["-l:libcrypto.so.3"],
  },
  cxxhello: {
    file: "cxxhello.cc",
    text: [
      "#include <iostream>",
      "#include <string>",
      "#include <vector>",
      'int main() { std::vector<std::string> v{"a", "b"}; std::string s = "hello"; s.replace(0, 1, "J"); std::cout << s << v.size() << std::endl; return 0; }',
    ].join("\n"),
    libs: [],
    cxx: true,
  },
  // a weak reference to a function nowhere: the program runs without it
  weakref: {
    file: "weakref.c",
    text: '#include <stdio.h>\nextern int compat_nowhere(void) __attribute__((weak));\nint main(void) { printf("%d\\n", compat_nowhere ? compat_nowhere() : 0); return 0; }\n',
    libs: [],
  },
};

const STACK_LIB = {
  file: "stack.c",
  text: [
    "unsigned long compressBound(unsigned long sourceLen);",
    "unsigned long stack_bound(unsigned long n) { return compressBound(n); }",
  ].join("\n"),
};
const USES_STACK = {
  file: "usestack.c",
  text: '#include <stdio.h>\nunsigned long stack_bound(unsigned long n);\nint main(void) { printf("%lu\\n", stack_bound(100)); return 0; }\n',
};

/** The tools from Debian packages and the arguments that make them exit 0 at once. */
const DEBIAN_TOOLS: Record<string, { pkg: string; bin: string; args: string[] }> = {
  zstd: { pkg: "zstd", bin: "usr/bin/zstd", args: ["--version"] },
  pigz: { pkg: "pigz", bin: "usr/bin/pigz", args: ["--version"] },
};

let cached: Promise<SoftwareLayer> | undefined;

export function softwareLayer(dev: DevLayer): Promise<SoftwareLayer> {
  cached ??= Promise.resolve().then(() => build(dev));
  return cached;
}

async function build(dev: DevLayer): Promise<SoftwareLayer> {
  const key = dev.localPrefix.split("/").find((p) => /^[0-9a-f]{16}$/.test(p)) ?? "dev";
  const base = join(PROJECT, ".cache/impact", key);
  const local = join(base, "software");
  const at = `/cvmfs/${dev.layer.repository}/versions/${dev.layer.version}/software/linux/${dev.layer.arch}`;
  const programs: Record<string, string> = {};
  const args: Record<string, string[]> = {};
  for (const name of [...Object.keys(SOURCES), "usestack"]) programs[name] = `bin/${name}`;
  for (const [name, t] of Object.entries(DEBIAN_TOOLS)) {
    programs[name] = `debian/${t.bin}`;
    args[name] = t.args;
  }
  const result = { local, at, programs, args };
  if (existsSync(join(base, "ready"))) return result;

  rmSync(base, { recursive: true, force: true });
  const work = join(base, "build");
  const tree = join(base, "software.tmp");
  mkdirSync(work, { recursive: true });
  for (const d of ["bin", "lib", "debian"]) mkdirSync(join(tree, d), { recursive: true });
  const layerLib = `${dev.prefix}/usr/lib/x86_64-linux-gnu`;
  const loader = `${dev.prefix}/lib64/ld-linux-x86-64.so.2`;
  const localLayerLib = join(dev.localPrefix, "usr/lib/x86_64-linux-gnu");
  const link = [`-L${localLayerLib}`, `-Wl,--dynamic-linker=${loader}`, `-Wl,-rpath,${at}/lib:${layerLib}`];

  execFileSync("gcc", [
    "-shared",
    "-fPIC",
    "-O2",
    "-o",
    join(tree, "lib/libstack.so.1"),
    write(work, STACK_LIB),
    "-Wl,-soname,libstack.so.1",
    `-L${localLayerLib}`,
    "-l:libz.so.1",
    `-Wl,-rpath,${layerLib}`,
  ]);
  for (const [name, s] of Object.entries(SOURCES))
    execFileSync(s.cxx ? "g++" : "gcc", [
      "-O2",
      "-o",
      join(tree, "bin", name),
      write(work, s),
      ...link,
      ...s.libs,
    ]);
  execFileSync("gcc", [
    "-O2",
    "-o",
    join(tree, "bin/usestack"),
    write(work, USES_STACK),
    `-L${join(tree, "lib")}`,
    "-l:libstack.so.1",
    `-Wl,--dynamic-linker=${loader}`,
    `-Wl,-rpath,$ORIGIN/../lib:${layerLib}`,
  ]);

  const debs = debianPackages(Object.values(DEBIAN_TOOLS).map((t) => t.pkg));
  for (const deb of debs.values()) execFileSync("dpkg-deb", ["-x", deb, join(tree, "debian")]);
  await relocateOnto(join(tree, "debian"), `${at}/debian`, dev.prefix);
  rmSync(join(tree, "debian/usr/share"), { recursive: true, force: true });
  renameSync(tree, local);
  writeFileSync(join(base, "ready"), "");
  return result;
}

function write(dir: string, s: { file: string; text: string }): string {
  const p = join(dir, s.file);
  writeFileSync(p, s.text);
  return p;
}

/**
 * Relocate an extracted Debian tree (seen at `at`) onto the layer at `prefix`, as a software layer
 * is built on a compatibility layer: executables get the layer's loader, every object an RPATH of
 * the tree's own library dirs and then the layer's.
 */
export async function relocateOnto(dir: string, at: string, prefix: string): Promise<number> {
  const rpath = [
    `${at}/usr/lib/x86_64-linux-gnu`,
    `${at}/lib/x86_64-linux-gnu`,
    `${prefix}/usr/lib/x86_64-linux-gnu`,
    `${prefix}/usr/lib`,
  ].join(":");
  const executables: string[] = [];
  const libraries: string[] = [];
  const walk = async (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) {
        const info = await readElf(p).catch(() => undefined);
        if (!info?.dynamic) continue;
        (info.interpreter ? executables : libraries).push(p);
      }
    }
  };
  await walk(dir);
  const batch = (files: string[], extra: string[]) => {
    for (let i = 0; i < files.length; i += 200)
      execFileSync("patchelf", [...extra, "--force-rpath", "--set-rpath", rpath, ...files.slice(i, i + 200)]);
  };
  batch(executables, ["--set-interpreter", `${prefix}/lib64/ld-linux-x86-64.so.2`]);
  batch(libraries, []);
  return executables.length + libraries.length;
}
