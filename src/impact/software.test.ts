import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { InputError } from "../errors.js";
import { assertSeparate, parseSoftwareArg, scanSoftware, softwareTree } from "./software.js";

const dir = realpathSync(mkdtempSync(join(tmpdir(), "impact-software-")));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const tree = join(dir, "tree");
mkdirSync(join(tree, "lib"), { recursive: true });

function refused(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return (e as Error).message;
  }
  throw new Error("not refused");
}

describe("--software DIR[=PATH]", () => {
  it("takes a directory, seen at its own path or at an absolute path under /cvmfs", () => {
    expect(parseSoftwareArg(tree)).toEqual({ local: tree, at: tree });
    expect(parseSoftwareArg(`${tree}=/cvmfs/sw.example.org/versions/1/software/`)).toEqual({
      local: tree,
      at: "/cvmfs/sw.example.org/versions/1/software",
    });
    // a directory whose name holds "=" is that directory
    const odd = join(dir, "a=b");
    mkdirSync(odd);
    expect(parseSoftwareArg(odd)).toEqual({ local: odd, at: odd });
  });

  it.each([
    [`${tree}=relative/path`, "relative/path is not an absolute path"],
    [`${tree}=`, "nothing after ="],
    ["=/cvmfs/x/software", 'no directory before "="'],
    [`${tree}=/`, "is not an absolute path of a directory"],
    [`${tree}=/cvmfs/x/sw\nbin`, "control characters"],
    [`${tree}=/cvmfs`, "only at its own path or under /cvmfs"],
    [`${tree}=/cvmfs/../etc`, "not at /etc"],
    [`${tree}=/usr/local`, "not at /usr/local"],
    ["/", "the whole file system"],
    [join(dir, "missing"), "no such directory"],
  ])("%j is refused: %s", (arg, message) => {
    expect(refused(() => parseSoftwareArg(arg))).toContain(message);
  });

  it("a file, a symlink loop and a symlink to a file are refused", () => {
    writeFileSync(join(dir, "file"), "x");
    symlinkSync("loop", join(dir, "loop"));
    symlinkSync("file", join(dir, "to-file"));
    expect(refused(() => softwareTree(join(dir, "file")))).toContain("not a directory");
    expect(refused(() => softwareTree(join(dir, "loop")))).toContain("a symlink loop");
    expect(refused(() => softwareTree(join(dir, "to-file")))).toContain("not a directory");
  });

  it("trees overlapping each other, the prefix, or a layer's files here are refused", () => {
    const prefix = "/cvmfs/sw.example.org/versions/1/compat/linux/x86_64";
    const a = { local: tree, at: "/cvmfs/sw.example.org/versions/1/software" };
    expect(() => assertSeparate([a], prefix, [join(dir, "layer")])).not.toThrow();
    expect(refused(() => assertSeparate([{ ...a, at: "/cvmfs/sw.example.org" }], prefix))).toContain(
      "overlaps the layer's prefix",
    );
    expect(refused(() => assertSeparate([a], prefix, [join(tree, "lib")]))).toContain(
      "overlaps the layer directory",
    );
    expect(refused(() => assertSeparate([a], prefix, [dir]))).toContain("overlaps the layer directory");
    expect(
      refused(() => assertSeparate([a, { local: join(tree, "lib"), at: "/cvmfs/other/sw" }], prefix)),
    ).toContain("overlap");
    expect(refused(() => assertSeparate([{ local: "/", at: "/" }], prefix))).toContain("overlaps");
  });
});

describe("scanning a software tree", () => {
  it("follows no symlink out of the tree, reads no FIFO or device, and counts hard links once", async () => {
    const t = join(dir, "scan");
    mkdirSync(join(t, "lib"), { recursive: true });
    mkdirSync(join(t, "bin"), { recursive: true });
    execFileSync("cp", ["/usr/bin/patchelf", join(t, "bin/tool")]);
    execFileSync("ln", [join(t, "bin/tool"), join(t, "bin/tool-again")]);
    // links out of the tree, to the host's files and devices, and back up past its root
    symlinkSync("/usr/bin/patchelf", join(t, "bin/outside"));
    symlinkSync("/dev/zero", join(t, "lib/libzero.so"));
    symlinkSync("../../../../../../..", join(t, "lib/up"));
    symlinkSync("/", join(t, "lib/root"));
    execFileSync("mkfifo", [join(t, "lib/libfifo.so.1")]);
    writeFileSync(join(t, "lib/libscript.so"), "INPUT(-lfoo)\n");
    const scan = await scanSoftware([softwareTree(t, "/cvmfs/sw.example.org/software")]);
    expect(scan.elf.map((f) => [f.rel, f.aliases])).toEqual([["bin/tool", ["bin/tool-again"]]]);
    expect(scan.notElf).toEqual(["/cvmfs/sw.example.org/software/lib/libscript.so"]);
  });
});
