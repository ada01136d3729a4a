import {
  chmodSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UnsafePathError } from "../paths/rules.js";
import { parseSpec } from "../spec/load.js";
import { resolveLayer } from "../spec/resolve.js";
import { linkActions, makeHostLinks } from "./symlinks.js";

const SPEC = `
repository: software.example.org
stack: dev
version: "2025.06"
arches: [x86_64]
flavor: debian
debian: { suite: bookworm }
hostSymlinks:
  - /etc/passwd
  - /var/tmp
  - /lib64/libnss_centrifydc.so.2
  - src: $(DEV_202506_COMPAT_ETC_HOSTS:-/cvmfs/software.example.org/defaults/compat/etc/hosts)
    dest: etc/hosts
  - src: $(DEV_202506_OVERRIDE:-/cvmfs/software.example.org/defaults/nvidia)
    dest: lib/nvidia
variantSymlinks:
  hostDefaults: { nvidia: /dev/null }
`;

const layer = resolveLayer(parseSpec(SPEC, "test.yaml").spec, "x86_64");
let prefixDir: string;
let scratch: string;

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), "compat-links-"));
  chmodSync(scratch, 0o755);
  prefixDir = join(scratch, "prefix");
  // a usr-merged tree: lib64 is a relative link, etc/passwd a file, var/tmp a directory with content
  mkdirSync(join(prefixDir, "usr/lib64"), { recursive: true });
  symlinkSync("usr/lib64", join(prefixDir, "lib64"));
  mkdirSync(join(prefixDir, "etc"));
  writeFileSync(join(prefixDir, "etc/passwd"), "root:x:0:0::/root:/bin/sh\n");
  mkdirSync(join(prefixDir, "var/tmp/junk"), { recursive: true });
  writeFileSync(join(prefixDir, "etc/hosts"), "127.0.0.1 localhost\n");
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("host links", () => {
  it("plans plain links during the build and variant ones at the end", () => {
    const plain = linkActions(layer.hostLinks, "plain");
    const final = linkActions(layer.hostLinks, "final");
    expect(plain.map((a) => a.target)).toEqual([
      "/etc/passwd",
      "/var/tmp",
      "/lib64/libnss_centrifydc.so.2",
      "/etc/hosts",
      "/dev/null",
    ]);
    expect(final[3]!.target).toBe(
      "$(DEV_202506_COMPAT_ETC_HOSTS:-/cvmfs/software.example.org/defaults/compat/etc/hosts)",
    );
    // a plain entry gets its variant form too when variant links are enabled
    expect(final[0]!.target).toBe(
      "$(DEV_202506_COMPAT_ETC_PASSWD:-/cvmfs/software.example.org/defaults/compat/etc/passwd)",
    );
    expect(plain[0]).toEqual({ path: "etc/passwd", target: "/etc/passwd" });
  });

  it("makes them as the layer sees its prefix, replacing files and directories that are not links", async () => {
    const mount = { base: prefixDir, mountedAt: layer.prefix, what: "the prefix" };
    const r = await makeHostLinks(mount, layer.hostLinks, "plain");
    expect(r.linked).toHaveLength(5);
    expect(r.replaced.map((p) => p.slice(layer.prefix.length + 1)).sort()).toEqual([
      "etc/hosts",
      "etc/passwd",
      "var/tmp",
    ]);
    expect(readlinkSync(join(prefixDir, "etc/passwd"))).toBe("/etc/passwd");
    expect(readlinkSync(join(prefixDir, "var/tmp"))).toBe("/var/tmp");
    // made through lib64 -> usr/lib64, as users of the layer will see it
    expect(readlinkSync(join(prefixDir, "usr/lib64/libnss_centrifydc.so.2"))).toBe(
      "/lib64/libnss_centrifydc.so.2",
    );
    expect(readlinkSync(join(prefixDir, "lib/nvidia"))).toBe("/dev/null");

    const f = await makeHostLinks(mount, layer.hostLinks, "final");
    expect(f.replaced).toEqual([]);
    expect(readlinkSync(join(prefixDir, "etc/hosts"))).toBe(
      "$(DEV_202506_COMPAT_ETC_HOSTS:-/cvmfs/software.example.org/defaults/compat/etc/hosts)",
    );
    expect(readlinkSync(join(prefixDir, "lib/nvidia"))).toBe(
      "$(DEV_202506_OVERRIDE:-/cvmfs/software.example.org/defaults/nvidia)",
    );
    expect(lstatSync(join(prefixDir, "etc/passwd")).isSymbolicLink()).toBe(true);
  });

  it("never touches the host: a path out of the prefix or through a link out is refused before anything is done", async () => {
    // finding 1 of issue 10: `/etc/` + 25 × `../` + `tmp/victim` deleted the host directory
    const outside = join(scratch, "victim");
    mkdirSync(outside, { recursive: true });
    writeFileSync(join(outside, "canary"), "keep\n");
    const mount = { base: prefixDir, mountedAt: layer.prefix, what: "the prefix" };
    const hostile = (path: string) => [
      { path: "etc/group", plain: "/etc/group", final: "/etc/group" },
      { path, plain: "/pwned", final: "/pwned" },
    ];
    for (const path of [`etc/${"../".repeat(25)}${outside.slice(1)}`, "../victim", "", "."])
      await expect(makeHostLinks(mount, hostile(path), "plain")).rejects.toThrow(UnsafePathError);
    // an earlier link to a host directory is a way out for a later one
    const through = [
      { path: "opt", plain: outside, final: outside },
      { path: "opt/canary", plain: "/pwned", final: "/pwned" },
    ];
    await makeHostLinks(mount, through.slice(0, 1), "plain");
    await expect(makeHostLinks(mount, through, "plain")).rejects.toThrow(/leads through the symlink opt ->/);
    expect(readFileSync(join(outside, "canary"), "utf8")).toBe("keep\n");
    expect(lstatSync(join(outside, "canary")).isFile()).toBe(true);
    expect(() => lstatSync(join(prefixDir, "etc/group"))).toThrow(); // nothing of the refused lists was made
  });
});
