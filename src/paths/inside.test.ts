import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { mkdirInside, removeInside, resolveInside, writeFileInside } from "./inside.js";
import { UnsafePathError } from "./rules.js";

const PREFIX = "/cvmfs/paths-test.example.org/versions/1/compat/linux/x86_64";
let scratch: string;
let base: string;
let outside: string;
const c = () => ({ base, mountedAt: PREFIX, what: "test path" });

beforeEach(() => {
  scratch = mkdtempSync(join(tmpdir(), "compat-paths-"));
  base = join(scratch, "prefix");
  outside = join(scratch, "outside");
  mkdirSync(join(base, "usr/lib"), { recursive: true });
  mkdirSync(outside);
  writeFileSync(join(outside, "canary"), "keep me\n");
  symlinkSync("usr/lib", join(base, "lib")); // relative, inside
  symlinkSync(`${PREFIX}/usr`, join(base, "usr-abs")); // absolute to the prefix path, inside
  symlinkSync(outside, join(base, "host")); // a host link
  symlinkSync("../outside", join(base, "up")); // relative, out through ".."
  symlinkSync("usr/../../outside", join(base, "sneaky"));
  symlinkSync("loop", join(base, "loop"));
  writeFileSync(join(base, "file"), "");
});
afterEach(() => rmSync(scratch, { recursive: true, force: true }));

describe("resolveInside", () => {
  it("follows links that stay inside, as the layer's programs would", () => {
    expect(resolveInside(c(), "lib/x.so")).toBe(join(base, "usr/lib/x.so"));
    expect(resolveInside(c(), "usr-abs/lib/new/dir")).toBe(join(base, "usr/lib/new/dir"));
    expect(resolveInside(c(), "new/a/b")).toBe(join(base, "new/a/b"));
    expect(resolveInside(c(), "host", { followLast: false })).toBe(join(base, "host"));
  });

  it("refuses a link that leads out, naming it", () => {
    for (const rel of ["host/canary", "host", "up/canary", "sneaky/canary"])
      expect(() => resolveInside(c(), rel)).toThrow(UnsafePathError);
    expect(() => resolveInside(c(), "host/x")).toThrow(`leads through the symlink host -> ${outside}`);
    // without a mount point, an absolute link is inside only when it points below the base itself
    symlinkSync(join(base, "usr"), join(base, "usr-local"));
    expect(resolveInside({ base, what: "p" }, "usr-local/lib")).toBe(join(base, "usr/lib"));
    expect(() => resolveInside(c(), "usr-local/lib")).toThrow(UnsafePathError);
  });

  it("refuses values that are not relative paths below the base, loops and files used as directories", () => {
    for (const rel of ["", ".", "../x", "/etc", "a/../../x"]) expect(() => resolveInside(c(), rel)).toThrow();
    expect(() => resolveInside(c(), "loop/x")).toThrow(/too many levels/);
    expect(() => resolveInside(c(), "file/x")).toThrow(/not a directory/);
  });
});

describe("writes", () => {
  it("writes and makes directories inside, through inside links", async () => {
    await writeFileInside(c(), "lib/new/file.conf", "x\n", 0o600);
    expect(readFileSync(join(base, "usr/lib/new/file.conf"), "utf8")).toBe("x\n");
    expect(statSync(join(base, "usr/lib/new/file.conf")).mode & 0o777).toBe(0o600);
    await mkdirInside(c(), "usr-abs/share/x");
    expect(statSync(join(base, "usr/share/x")).isDirectory()).toBe(true);
  });

  it("never writes, makes or removes anything outside", async () => {
    await expect(writeFileInside(c(), "host/canary", "pwned")).rejects.toThrow(UnsafePathError);
    await expect(writeFileInside(c(), "host/new/x", "pwned")).rejects.toThrow(UnsafePathError);
    await expect(mkdirInside(c(), "up/made")).rejects.toThrow(UnsafePathError);
    await expect(removeInside(c(), "host/canary")).rejects.toThrow(UnsafePathError);
    expect(readFileSync(join(outside, "canary"), "utf8")).toBe("keep me\n");
    expect(existsSync(join(outside, "new"))).toBe(false);
    expect(existsSync(join(outside, "made"))).toBe(false);
    // removing the host link itself removes the link, not what it points at
    await removeInside(c(), "host");
    expect(existsSync(join(base, "host"))).toBe(false);
    expect(readFileSync(join(outside, "canary"), "utf8")).toBe("keep me\n");
  });

  it("says what is in the way instead of failing with an errno", async () => {
    mkdirSync(join(base, "usr/lib/dir.conf"));
    await expect(writeFileInside(c(), "lib/dir.conf", "x")).rejects.toThrow(
      "test path: cannot write lib/dir.conf: a directory is there",
    );
  });

  it("follows a last-component link only inside; a dangling inside link gets its target made", async () => {
    symlinkSync("usr/lib/target.conf", join(base, "conf"));
    await writeFileInside(c(), "conf", "y\n");
    expect(lstatSync(join(base, "conf")).isSymbolicLink()).toBe(true);
    expect(readFileSync(join(base, "usr/lib/target.conf"), "utf8")).toBe("y\n");
    symlinkSync(join(outside, "planted"), join(base, "planted"));
    await expect(writeFileInside(c(), "planted", "z")).rejects.toThrow(UnsafePathError);
    expect(existsSync(join(outside, "planted"))).toBe(false);
  });
});
