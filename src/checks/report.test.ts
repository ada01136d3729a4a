import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { junitXml } from "./report.js";

describe("junitXml", () => {
  it("writes XML that parses whatever the strings hold (control characters of file names, sonames, output)", () => {
    const hostile = 'lib\u0001evil\u001b[2J.so\u0000 <&> "quoted" \ud800 ok: \u00e9\u{1f600}';
    const xml = junitXml({
      "?xml": { "@_version": "1.0", "@_encoding": "UTF-8" },
      testsuites: {
        "@_name": hostile,
        testsuite: {
          "@_name": "s",
          testcase: [{ "@_name": hostile, failure: { "@_message": hostile, "#text": hostile } }],
        },
      },
    });
    for (const c of ["\u0000", "\u0001", "\u001b"]) expect(xml).not.toContain(c);
    expect(xml).toContain("ok: \u00e9\u{1f600}");
    const dir = mkdtempSync(join(tmpdir(), "junit-"));
    try {
      writeFileSync(join(dir, "r.xml"), xml);
      execFileSync("xmllint", ["--noout", join(dir, "r.xml")]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
