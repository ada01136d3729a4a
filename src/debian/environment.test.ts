import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { debianLayerEnvironment } from "./environment.js";

const P = "/cvmfs/software.example.org/versions/2025.06/compat/linux/x86_64";

describe("debianLayerEnvironment", () => {
  let tree: string;
  beforeAll(() => {
    tree = mkdtempSync(join(tmpdir(), "env-"));
    const file = (rel: string) => {
      mkdirSync(dirname(join(tree, rel)), { recursive: true });
      writeFileSync(join(tree, rel), "");
    };
    for (const d of [
      "usr/lib/locale",
      "usr/lib/x86_64-linux-gnu/gconv",
      "etc/terminfo",
      "usr/share/terminfo",
      "usr/lib/x86_64-linux-gnu/engines-3",
      "etc/ssl/certs",
    ])
      mkdirSync(join(tree, d), { recursive: true });
    file("etc/ssl/certs/ca-certificates.crt");
    file("etc/ssl/openssl.cnf");
    mkdirSync(join(tree, "usr/lib/ssl"), { recursive: true });
    // relocated links point at the prefix, which does not exist on this host: they must still count
    symlinkSync(`${P}/etc/ssl/openssl.cnf`, join(tree, "usr/lib/ssl/openssl.cnf"));
    symlinkSync(`${P}/usr/lib/nowhere`, join(tree, "usr/lib/file"));
  });
  afterAll(() => rmSync(tree, { recursive: true, force: true }));

  it("names what exists in the tree, in a fixed order", async () => {
    const env = await debianLayerEnvironment({
      treeDir: tree,
      prefix: P,
      triplet: "x86_64-linux-gnu",
      perl: { PERL5LIB: `${P}/etc/perl`, PERL5OPT: "-MCompatINC" },
    });
    expect(env.map((v) => `${v.name}=${v.value}`)).toEqual([
      `LOCPATH=${P}/usr/lib/locale`,
      `GCONV_PATH=${P}/usr/lib/x86_64-linux-gnu/gconv`,
      `PERL5LIB=${P}/etc/perl`,
      "PERL5OPT=-MCompatINC",
      `TERMINFO_DIRS=${P}/etc/terminfo:${P}/usr/share/terminfo`,
      `OPENSSL_CONF=${P}/usr/lib/ssl/openssl.cnf`,
      `OPENSSL_ENGINES=${P}/usr/lib/x86_64-linux-gnu/engines-3`,
      `SSL_CERT_FILE=${P}/etc/ssl/certs/ca-certificates.crt`,
      `SSL_CERT_DIR=${P}/etc/ssl/certs`,
    ]);
    for (const v of env) expect(v.why).toBeTruthy();
  });
});
