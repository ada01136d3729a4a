import { afterEach, describe, expect, it } from "vitest";
import { bareTarget, contextFor, tempDir, writeLayout } from "../../../test/helpers/prefix-layout.js";
import { setuidFiles } from "./setuid.js";
import { specialFiles } from "./special-files.js";
import { worldWritable } from "./world-writable.js";

const isRoot = process.getuid?.() === 0;
let cleanup = () => {};
afterEach(() => cleanup());

function layout(l: Parameters<typeof writeLayout>[1]) {
  const t = tempDir();
  cleanup = t.cleanup;
  writeLayout(t.dir, { "usr/bin/ok": { file: "#!/bin/sh\n", mode: 0o755 }, ...l });
  return contextFor(bareTarget(t.dir));
}

describe("world-writable", () => {
  it("passes sticky world-writable directories (tmp) and symlinks", async () => {
    const ctx = layout({ tmp: { dir: true, mode: 0o1777 }, "usr/bin/sh": { link: "bash" } });
    expect((await worldWritable.run(ctx)).status).toBe("pass");
  });

  it("fails a world-writable file and a non-sticky world-writable directory, naming them", async () => {
    const ctx = layout({
      "etc/profile": { file: "x", mode: 0o666 },
      "var/spool": { dir: true, mode: 0o777 },
    });
    const r = await worldWritable.run(ctx);
    expect(r.status).toBe("fail");
    expect(r.evidence.files).toEqual([ctx.fs.abs("etc/profile"), ctx.fs.abs("var/spool")]);
  });
});

describe("setuid", () => {
  it("fails setuid and setgid files and names them; setgid directories are fine", async () => {
    const ctx = layout({
      "usr/bin/su": { file: "x", mode: 0o4755 },
      "usr/bin/wall": { file: "x", mode: 0o2755 },
      "var/mail": { dir: true, mode: 0o2775 },
    });
    const r = await setuidFiles.run(ctx);
    expect(r.status).toBe("fail");
    expect(r.evidence.files).toEqual([ctx.fs.abs("usr/bin/su"), ctx.fs.abs("usr/bin/wall")]);
    expect(r.evidence.details).toEqual([
      "usr/bin/su: mode 4755 (setuid)",
      "usr/bin/wall: mode 2755 (setgid)",
    ]);
  });

  it("passes a tree without set bits", async () => {
    const ctx = layout({ "var/mail": { dir: true, mode: 0o2775 } });
    const r = await setuidFiles.run(ctx);
    expect(r.status).toBe("pass");
    expect(r.evidence.found).toContain("1 setgid directories");
  });
});

describe("special-files", () => {
  it("fails a fifo", async () => {
    const ctx = layout({ "run/initctl": { fifo: true } });
    const r = await specialFiles.run(ctx);
    expect(r.status).toBe("fail");
    expect(r.evidence.details).toEqual(["run/initctl: fifo"]);
  });

  it.runIf(isRoot)("fails a character device (as root, mknod works)", async () => {
    const ctx = layout({ "dev/null": { charDevice: [1, 3] } });
    const r = await specialFiles.run(ctx);
    expect(r.status).toBe("fail");
    expect(r.evidence.files).toEqual([ctx.fs.abs("dev/null")]);
  });

  it("passes files, directories and symlinks only", async () => {
    const ctx = layout({ lib64: { link: "usr/lib64" }, "usr/lib64": { dir: true } });
    expect((await specialFiles.run(ctx)).status).toBe("pass");
  });
});
