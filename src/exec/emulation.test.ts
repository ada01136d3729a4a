/**
 * The foreign-arch preflight against binfmt_misc directories of our own (the real one is
 * kernel-global: tests never register or remove a handler). The handler texts are what the kernel
 * shows for Debian 12's qemu-user-static and binfmt-support.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ToolError } from "../errors.js";
import {
  assertArchRunnable,
  elfHeaderOf,
  emulationFor,
  handlerMatches,
  handlesArch,
  parseBinfmtHandler,
} from "./emulation.js";

const RISCV64 = `enabled
interpreter /usr/libexec/qemu-binfmt/riscv64-binfmt-P
flags: PF
offset 0
magic 7f454c460201010000000000000000000200f300
mask ffffffffffffff00fffffffffffffffffeffffff
`;
const AARCH64 = `enabled
interpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P
flags: PF
offset 0
magic 7f454c460201010000000000000000000200b700
mask ffffffffffffff00fffffffffffffffffeffffff
`;
const PYTHON = `enabled
interpreter /usr/bin/python3.11
flags: 
offset 0
magic a70d0d0a
`;
const JAR = `enabled
interpreter /usr/bin/jexec
flags: 
extension .jar
`;

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A binfmt_misc directory: `status` and handler files (null status: not mounted). */
function binfmt(files: Record<string, string>, status: string | null = "enabled\n"): string {
  const dir = mkdtempSync(join(tmpdir(), "compat-binfmt-"));
  dirs.push(dir);
  if (status !== null) writeFileSync(join(dir, "status"), status);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

const x86 = { hostArch: "x64", exists: () => true };

describe("binfmt_misc handlers", () => {
  it("parses qemu-user-static's handler and matches executables and PIEs of its arch only", () => {
    const h = parseBinfmtHandler("qemu-riscv64", RISCV64)!;
    expect(h).toMatchObject({
      enabled: true,
      flags: "PF",
      offset: 0,
      interpreter: "/usr/libexec/qemu-binfmt/riscv64-binfmt-P",
    });
    expect(handlesArch(h, "riscv64")).toBe(true);
    expect(handlesArch(h, "aarch64")).toBe(false);
    expect(handlesArch(h, "x86_64")).toBe(false);
    expect(handlerMatches(h, elfHeaderOf("riscv64", 3))).toBe(true);
    // a 32-bit or big-endian header is another arch
    const be = elfHeaderOf("riscv64", 2);
    be[5] = 2;
    expect(handlerMatches(h, be)).toBe(false);
  });

  it("leaves out what is not a magic handler the kernel wrote", () => {
    expect(parseBinfmtHandler("jar", JAR)).toBeUndefined();
    expect(handlesArch(parseBinfmtHandler("python3.11", PYTHON)!, "riscv64")).toBe(false);
    for (const bad of [
      "",
      "garbage",
      RISCV64.replace("enabled", "maybe"),
      RISCV64.replace("7f454c46", "zz454c46"),
      RISCV64.replace("7f454c46", "7f454c4"),
      RISCV64.replace("mask ffffffffffffff00", "mask ff"),
      RISCV64.replace("offset 0", "offset -1"),
      RISCV64.replace("offset 0", "offset 99999999999"),
      RISCV64.replace(/interpreter .*\n/, ""),
    ])
      expect(parseBinfmtHandler("x", bad), JSON.stringify(bad)).toBeUndefined();
  });

  it("a handler whose magic lies beyond the header matches nothing", () => {
    const far = parseBinfmtHandler("far", RISCV64.replace("offset 0", "offset 60"))!;
    expect(handlesArch(far, "riscv64")).toBe(false);
  });
});

describe("emulationFor: whether this machine runs an arch's programs", () => {
  it("the host's own arch is native, whatever binfmt_misc says", () => {
    expect(emulationFor("x86_64", { ...x86, binfmtDir: "/nonexistent" })).toEqual({
      runnable: true,
      native: true,
    });
    expect(emulationFor("aarch64", { hostArch: "arm64", binfmtDir: "/nonexistent" }).runnable).toBe(true);
  });

  it("a foreign arch runs through an enabled handler with F whose interpreter exists, under any name", () => {
    const dir = binfmt({ "python3.11": PYTHON, jar: JAR, "riscv-by-hand": RISCV64, "qemu-aarch64": AARCH64 });
    const e = emulationFor("riscv64", { ...x86, binfmtDir: dir });
    expect(e).toMatchObject({ runnable: true, native: false, handler: { name: "riscv-by-hand" } });
  });

  it("binfmt_misc not mounted: says so and names update-binfmts --enable", () => {
    const dir = binfmt({}, null);
    expect(() => assertArchRunnable("riscv64", { ...x86, binfmtDir: dir })).toThrow(
      /cannot run riscv64 programs here: this machine is x86_64 .*binfmt_misc is not mounted at/,
    );
    try {
      assertArchRunnable("riscv64", { ...x86, binfmtDir: dir });
    } catch (e) {
      expect(e).toBeInstanceOf(ToolError);
      expect((e as ToolError).exitCode).toBe(4);
      expect((e as ToolError).hint).toMatch(/update-binfmts --enable/);
    }
  });

  it("each missing piece has its own message and fix", () => {
    const cases: Array<[Record<string, string>, string | undefined, RegExp, RegExp]> = [
      [{ "qemu-riscv64": RISCV64 }, "disabled\n", /binfmt_misc is switched off/, /echo 1 > .*status/],
      [
        { "qemu-aarch64": AARCH64 },
        undefined,
        /no binfmt_misc handler .* runs riscv64 programs/,
        /apt-get install qemu-user-static binfmt-support/,
      ],
      [
        { "qemu-riscv64": RISCV64.replace("enabled", "disabled") },
        undefined,
        /handler for riscv64 \(qemu-riscv64\) is disabled/,
        /update-binfmts --enable qemu-riscv64/,
      ],
      [
        { "qemu-riscv64": RISCV64.replace("flags: PF", "flags: P") },
        undefined,
        /lacks the F \(fix-binary\) flag \(flags: P\)/,
        /echo -1 > .*qemu-riscv64; update-binfmts --enable qemu-riscv64/,
      ],
    ];
    for (const [files, status, problem, hint] of cases) {
      const e = emulationFor("riscv64", { ...x86, binfmtDir: binfmt(files, status) });
      expect(e.runnable).toBe(false);
      if (!e.runnable) {
        expect(e.problem).toMatch(problem);
        expect(e.hint).toMatch(hint);
      }
    }
    const gone = emulationFor("riscv64", {
      hostArch: "x64",
      exists: () => false,
      binfmtDir: binfmt({ "qemu-riscv64": RISCV64 }),
    });
    expect(gone).toMatchObject({
      runnable: false,
      problem: expect.stringMatching(/riscv64-binfmt-P, does not exist/),
    });
  });

  it("a directory, a FIFO or a link in a handler's place is no handler (and nothing blocks)", () => {
    const dir = binfmt({ "real-riscv64": RISCV64 });
    mkdirSync(join(dir, "qemu-riscv64"));
    execFileSync("mkfifo", [join(dir, "fifo")]);
    symlinkSync(join(dir, "real-riscv64"), join(dir, "link"));
    writeFileSync(join(dir, "real-riscv64"), RISCV64.replace("enabled", "disabled"));
    expect(emulationFor("riscv64", { ...x86, binfmtDir: dir })).toMatchObject({
      runnable: false,
      problem: expect.stringMatching(/\(real-riscv64\) is disabled/),
    });
  });
});
