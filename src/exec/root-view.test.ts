import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InputError } from "../errors.js";
import { rootViewArgs } from "./root-view.js";

const OWN = new Set(["proc", "dev", "cvmfs", "tmp"]);
let scratch: string;
let root: string;

/** Triples of (op, src, dest) or pairs for --tmpfs, as bwrap reads them. */
function ops(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; ) {
    const op = args[i]!;
    const n = op === "--tmpfs" ? 1 : 2;
    out.push([op, ...args.slice(i + 1, i + 1 + n)].join(" "));
    i += 1 + n;
  }
  return out;
}

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), "compat-root-view-"));
  root = join(scratch, "root");
  for (const d of ["usr/bin", "etc/apt", "var/lib", "var/tmp", "home", "proc", "tmp"])
    mkdirSync(join(root, d), { recursive: true });
  symlinkSync("usr/bin", join(root, "bin"));
  writeFileSync(join(root, "etc/passwd"), "root:x:0:0::/root:/bin/sh\n");
  writeFileSync(join(root, "etc/hostname"), "buildroot\n");
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("rootViewArgs", () => {
  it("binds the build root's top level read-only, re-creates its symlinks, never its own names", () => {
    const v = rootViewArgs(root, [{ path: "/var/tmp", kind: "dir" }], OWN);
    expect(ops(v.args)).toEqual([
      "--symlink usr/bin /bin",
      `--ro-bind ${root}/etc /etc`,
      `--ro-bind ${root}/home /home`,
      `--ro-bind ${root}/usr /usr`,
      `--ro-bind ${root}/var /var`,
    ]);
    expect(v.readOnlyAgain).toEqual(["/"]);
  });

  it("mirrors the directory above a mount point the build root lacks, and makes it read-only again", () => {
    const v = rootViewArgs(
      root,
      [
        { path: "/etc/resolv.conf", kind: "file" },
        { path: "/work/runs/x", kind: "dir" },
      ],
      OWN,
    );
    expect(ops(v.args)).toEqual([
      "--symlink usr/bin /bin",
      "--tmpfs /etc",
      `--ro-bind ${root}/etc/apt /etc/apt`,
      `--ro-bind ${root}/etc/hostname /etc/hostname`,
      `--ro-bind ${root}/etc/passwd /etc/passwd`,
      `--ro-bind ${root}/home /home`,
      `--ro-bind ${root}/usr /usr`,
      `--ro-bind ${root}/var /var`,
    ]);
    expect(v.readOnlyAgain).toEqual(["/etc", "/"]);
  });

  it("a mount point under the build root's /tmp or /proc uses the sandbox's own", () => {
    const v = rootViewArgs(root, [{ path: "/tmp/compat-x/work", kind: "dir" }], OWN);
    expect(v.readOnlyAgain).toEqual(["/"]);
    expect(ops(v.args).filter((o) => / \/(tmp|proc)$/.test(o))).toEqual([]);
  });

  it("a symlink where a mount goes is left out (the mount takes its place), never followed", () => {
    const hostile = join(scratch, "hostile");
    mkdirSync(join(hostile, "var"), { recursive: true });
    mkdirSync(join(hostile, "etc"));
    // what a tampered cache could hold: links to the host's directories
    symlinkSync("/var/tmp", join(hostile, "var/tmp"));
    symlinkSync("/etc/resolv.conf", join(hostile, "etc/resolv.conf"));
    symlinkSync("/tmp", join(hostile, "tmp"));
    symlinkSync("/proc/1/root", join(hostile, "proc"));
    const v = rootViewArgs(
      hostile,
      [
        { path: "/var/tmp", kind: "dir" },
        { path: "/etc/resolv.conf", kind: "file" },
      ],
      OWN,
    );
    expect(ops(v.args)).toEqual(["--tmpfs /etc", "--tmpfs /var"]);
    expect(v.readOnlyAgain).toEqual(["/etc", "/var", "/"]);
  });

  it("refuses a mount point reached through a symlink of the build root (/etc -> the host's /etc)", () => {
    const hostile = join(scratch, "etc-link");
    mkdirSync(hostile);
    symlinkSync("/etc", join(hostile, "etc"));
    const err = (() => {
      try {
        rootViewArgs(hostile, [{ path: "/etc/resolv.conf", kind: "file" }], OWN);
      } catch (e) {
        return e;
      }
    })() as InputError;
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toBe(
      `build root ${hostile}: /etc is a symlink (to /etc), and /etc/resolv.conf would be mounted through it`,
    );
    // a bind below usrmerge's /bin -> usr/bin likewise
    expect(() => rootViewArgs(root, [{ path: "/bin/tool", kind: "file" }], OWN)).toThrow(
      /\/bin is a symlink \(to usr\/bin\), and \/bin\/tool would be mounted through it/,
    );
    // without a mount below it, the link is only re-created (it resolves inside the sandbox)
    expect(rootViewArgs(hostile, [], OWN).args).toEqual(["--symlink", "/etc", "/etc"]);
  });

  it("refuses what is not a directory, and the host's own /", () => {
    writeFileSync(join(scratch, "file"), "");
    expect(() => rootViewArgs(join(scratch, "file"), [], OWN)).toThrow(/is not a directory/);
    expect(() => rootViewArgs(join(scratch, "missing"), [], OWN)).toThrow(/cannot be used: ENOENT/);
    expect(() => rootViewArgs("/", [], OWN)).toThrow(/the host's \/ cannot be a build root/);
    // a link to / is the host's / too
    symlinkSync("/", join(scratch, "slash"));
    expect(() => rootViewArgs(join(scratch, "slash"), [], OWN)).toThrow(
      /the host's \/ cannot be a build root/,
    );
  });
});
