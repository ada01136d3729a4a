import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { COMPAT_PERL_DIR, confinePerl } from "./perl.js";

describe("confinePerl", () => {
  let tree: string;
  beforeAll(() => {
    tree = mkdtempSync(join(tmpdir(), "perl-"));
    for (const d of ["etc/perl", "usr/share/perl/5.36", "usr/lib/x86_64-linux-gnu/perl-base"])
      mkdirSync(join(tree, d), { recursive: true });
  });
  afterAll(() => rmSync(tree, { recursive: true, force: true }));

  it("puts the prefix copies of @INC that exist on PERL5LIB and writes CompatINC.pm", async () => {
    const prefix = tree; // the tree stands at its prefix here, so host perl can load the module
    const env = await confinePerl({
      treeDir: tree,
      prefix,
      inc: [
        "/etc/perl",
        "/usr/local/share/perl/5.36.0",
        "/usr/lib/x86_64-linux-gnu/perl-base",
        "/usr/share/perl/5.36",
      ],
    });
    expect(env.PERL5LIB.split(":")).toEqual([
      `${prefix}/etc/perl`,
      `${prefix}/usr/lib/x86_64-linux-gnu/perl-base`,
      `${prefix}/usr/share/perl/5.36`,
      `${prefix}/${COMPAT_PERL_DIR}`,
    ]);
    expect(env.missing).toEqual(["/usr/local/share/perl/5.36.0"]);
    expect(readFileSync(join(tree, COMPAT_PERL_DIR, "CompatINC.pm"), "utf8")).toContain("package CompatINC;");
  });

  it.skipIf(spawnSync("perl", ["-v"]).status !== 0)(
    "CompatINC drops every @INC entry outside the prefix (run by perl)",
    () => {
      const r = spawnSync("perl", ["-e", 'print "$_\\n" for @INC'], {
        encoding: "utf8",
        env: {
          PATH: "/usr/bin:/bin",
          PERL5LIB: `${tree}/etc/perl:${tree}/${COMPAT_PERL_DIR}`,
          PERL5OPT: "-MCompatINC",
        },
      });
      expect(r.status).toBe(0);
      expect(r.stdout.trim().split("\n")).toEqual([`${tree}/etc/perl`, `${tree}/${COMPAT_PERL_DIR}`]);
      // (a -M on the command line is loaded before PERL5OPT's; in the layer PERL5LIB finds it first)
      const missing = spawnSync("perl", ["-e", "require POSIX"], {
        encoding: "utf8",
        env: { PATH: "/usr/bin:/bin", PERL5LIB: `${tree}/${COMPAT_PERL_DIR}`, PERL5OPT: "-MCompatINC" },
      });
      expect(missing.status).not.toBe(0); // POSIX.pm is not in the "layer": it must not come from the host
      expect(missing.stderr).toMatch(/Can't locate POSIX\.pm/);
    },
  );
});
