/**
 * The ELF checks on a real, tiny prefix made from this host's own binaries with patchelf, and their
 * verdicts compared with what the real loader does (`ld.so --list`).
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { elfInterpreter } from "../../src/checks/suite/elf-interpreter.js";
import { elfLibraries, libraryProblems } from "../../src/checks/suite/elf-libraries.js";
import { bareTarget, contextFor, tempDir } from "../helpers/prefix-layout.js";

const isX86 = process.arch === "x64";
const LIB = "usr/lib/x86_64-linux-gnu";
let cleanup = () => {};
afterEach(() => cleanup());

/** $T/usr/bin/{true,ls}, their libraries and the loader, patched to use $T only. */
function tinyPrefix(): string {
  const t = tempDir("compat-elf-");
  cleanup = t.cleanup;
  const p = t.dir;
  const put = (src: string, rel: string) => {
    mkdirSync(dirname(join(p, rel)), { recursive: true });
    copyFileSync(src, join(p, rel));
  };
  put("/lib64/ld-linux-x86-64.so.2", "lib64/ld-linux-x86-64.so.2");
  put("/usr/bin/true", "usr/bin/true");
  put("/usr/bin/ls", "usr/bin/ls");
  for (const lib of ["libc.so.6", "libselinux.so.1", "libpcre2-8.so.0"])
    put(`/${LIB}/${lib}`, `${LIB}/${lib}`);
  mkdirSync(join(p, "var/lib/dpkg"), { recursive: true });
  writeFileSync(join(p, "var/lib/dpkg/status"), "");
  const interp = join(p, "lib64/ld-linux-x86-64.so.2");
  for (const exe of ["usr/bin/true", "usr/bin/ls", `${LIB}/libc.so.6`])
    execFileSync("patchelf", ["--set-interpreter", interp, join(p, exe)]);
  for (const obj of [
    "usr/bin/true",
    "usr/bin/ls",
    `${LIB}/libc.so.6`,
    `${LIB}/libselinux.so.1`,
    `${LIB}/libpcre2-8.so.0`,
  ])
    execFileSync("patchelf", ["--force-rpath", "--set-rpath", join(p, LIB), join(p, obj)]);
  return p;
}

/** What the real loader resolves: `name => path` lines of `ld.so --list`. */
function loaderList(p: string, exe: string): Map<string, string> {
  const out = execFileSync(join(p, "lib64/ld-linux-x86-64.so.2"), ["--list", join(p, exe)]).toString();
  const m = new Map<string, string>();
  for (const line of out.split("\n")) {
    const [name, rest] = line.trim().split(" => ");
    if (name && rest) m.set(name, rest.replace(/ \(0x[0-9a-f]+\)$/, ""));
  }
  return m;
}

describe.runIf(isX86)("ELF checks on a tiny real prefix", () => {
  it("pass when every program uses the prefix's loader and libraries, as the real loader confirms", async () => {
    const p = tinyPrefix();
    const ctx = contextFor(bareTarget(p));
    expect((await elfInterpreter.run(ctx)).status).toBe("pass");
    const r = await elfLibraries.run(ctx);
    expect(r.status, JSON.stringify(r.evidence, null, 2)).toBe("pass");
    const real = loaderList(p, "usr/bin/ls");
    expect(real.get("libselinux.so.1")).toBe(join(p, LIB, "libselinux.so.1"));
    expect(real.get("libpcre2-8.so.0")).toBe(join(p, LIB, "libpcre2-8.so.0"));
    execFileSync(join(p, "usr/bin/true"));
  });

  it("fail a removed library: the loader then takes the host's, and the check names the program", async () => {
    const p = tinyPrefix();
    rmSync(join(p, LIB, "libpcre2-8.so.0"));
    const ctx = contextFor(bareTarget(p));
    const r = await elfLibraries.run(ctx);
    expect(r.status).toBe("fail");
    expect(r.evidence.files).toEqual([join(p, LIB, "libselinux.so.1")]);
    const { problems } = await libraryProblems(ctx);
    expect(problems).toHaveLength(1);
    const line = problems[0]!.line;
    expect(line).toContain(`${LIB}/libselinux.so.1: needs libpcre2-8.so.0: found outside the prefix at `);
    // The real loader agrees: it maps a host copy, the one the check names.
    const hostCopy = loaderList(p, "usr/bin/ls").get("libpcre2-8.so.0")!;
    expect(hostCopy.startsWith(p)).toBe(false);
    expect(line).toContain(`at ${hostCopy}`);
  });

  it("fail an RPATH pointing at the host, naming the object", async () => {
    const p = tinyPrefix();
    execFileSync("patchelf", ["--force-rpath", "--set-rpath", `/${LIB}`, join(p, "usr/bin/true")]);
    const r = await elfLibraries.run(contextFor(bareTarget(p)));
    expect(r.status).toBe("fail");
    expect(r.evidence.files).toEqual([join(p, "usr/bin/true")]);
    expect(r.evidence.details).toEqual([
      `usr/bin/true: RPATH entry /${LIB} is outside the prefix`,
      `usr/bin/true: needs libc.so.6: found outside the prefix at /${LIB}/libc.so.6 (via RPATH /${LIB})`,
    ]);
    expect(loaderList(p, "usr/bin/true").get("libc.so.6")).toBe(`/${LIB}/libc.so.6`);
  });

  it("fail a program whose PT_INTERP is the host's loader", async () => {
    const p = tinyPrefix();
    execFileSync("patchelf", ["--set-interpreter", "/lib64/ld-linux-x86-64.so.2", join(p, "usr/bin/ls")]);
    const r = await elfInterpreter.run(contextFor(bareTarget(p)));
    expect(r.status).toBe("fail");
    expect(r.evidence.details).toEqual([
      "usr/bin/ls: PT_INTERP /lib64/ld-linux-x86-64.so.2 outside the prefix",
    ]);
  });
});
