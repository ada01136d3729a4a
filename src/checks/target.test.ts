import { afterEach, describe, expect, it } from "vitest";
import { tempDir, writeLayout } from "../../test/helpers/prefix-layout.js";
import { InputError } from "../errors.js";
import { LayerFs } from "./layer-fs.js";
import { targetFromPrefix } from "./prefix-target.js";
import { eprefixAssignment } from "./target.js";

let cleanup = () => {};
afterEach(() => cleanup());

const P = "/cvmfs/software.example.org/versions/2025.06/compat/linux/x86_64";

/** The least a debian layer has: a startprefix naming EPREFIX and a dpkg status file. */
const writeDebianLayer = (dir: string) =>
  writeLayout(dir, {
    startprefix: { file: `#!${P}/bin/bash\nEPREFIX="${P}"\nexport EPREFIX\n`, mode: 0o755 },
    "var/lib/dpkg/status": "",
  });

describe("targetFromPrefix", () => {
  it("reads EPREFIX from startprefix and checks the files as that prefix, through the sandbox", async () => {
    const t = tempDir();
    cleanup = t.cleanup;
    writeDebianLayer(t.dir);
    const target = await targetFromPrefix(t.dir);
    expect(target).toMatchObject({
      prefix: P,
      localPrefix: t.dir,
      mount: { prefixDir: t.dir, prefix: P },
      flavor: "debian",
      arch: "x86_64",
      os: "linux",
      version: "2025.06",
    });
  });

  it("says what is wrong with a directory that is not a layer", async () => {
    const t = tempDir();
    cleanup = t.cleanup;
    const err = await targetFromPrefix(t.dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toContain("not a compatibility layer");
  });

  it("refuses an --arch that is not one, with the name it probably means", async () => {
    const t = tempDir();
    cleanup = t.cleanup;
    writeDebianLayer(t.dir);
    const err = await targetFromPrefix(t.dir, { arch: "arm64" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toContain("--arch arm64: not an architecture");
    expect((err as InputError).hint).toBe("did you mean aarch64?");
  });

  it("refuses a declared prefix that leads out of /cvmfs, before anything is read or mounted", async () => {
    const t = tempDir();
    cleanup = t.cleanup;
    writeLayout(t.dir, {
      startprefix: { file: 'EPREFIX="/cvmfs/../tmp/compat-declared"\n', mode: 0o755 },
      "var/lib/dpkg/status": "",
    });
    const err = await targetFromPrefix(t.dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toContain(
      'the prefix the layer declares ("/cvmfs/../tmp/compat-declared", from its startprefix or its programs\' loader) has a ".." component',
    );
  });

  it("parses the forms of an EPREFIX assignment", () => {
    expect(eprefixAssignment(`EPREFIX='${P}'`)).toBe(P);
    expect(eprefixAssignment(`  export EPREFIX=${P}/ # comment`)).toBe(P);
    expect(eprefixAssignment('EPREFIX="$(dirname "$0")"')).toBeUndefined();
  });
});

describe("LayerFs", () => {
  it("maps the prefix and the repository root, and leaves other /cvmfs paths empty in the sandbox", () => {
    const fs = new LayerFs({
      prefix: P,
      localPrefix: "/tmp/root/versions/2025.06/compat/linux/x86_64",
      repository: { mount: "/cvmfs/software.example.org", root: "/tmp/root" },
    });
    expect(fs.local(`${P}/usr/bin/bash`)).toBe("/tmp/root/versions/2025.06/compat/linux/x86_64/usr/bin/bash");
    expect(fs.local("/cvmfs/software.example.org/defaults/compat/etc/passwd")).toBe(
      "/tmp/root/defaults/compat/etc/passwd",
    );
    expect(fs.region("/cvmfs/other.example.org/x")).toBe("void");
    expect(fs.region("/etc/passwd")).toBe("host");
    expect(fs.rel(`${P}/usr/bin/bash`)).toBe("usr/bin/bash");
  });
});
