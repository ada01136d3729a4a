/** `compat check` as a user runs it: the built CLI on hand-made prefix layouts. */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { tempDir, writeLayout } from "../helpers/prefix-layout.js";

const CLI = join(import.meta.dirname, "../../dist/cli/bin.js");
const compat = (...args: string[]) => spawnSync("node", [CLI, ...args], { encoding: "utf8" });

let cleanup = () => {};
afterEach(() => cleanup());

function layout(extra: Parameters<typeof writeLayout>[1] = {}) {
  const t = tempDir();
  cleanup = t.cleanup;
  writeLayout(t.dir, {
    "var/lib/dpkg/status": "",
    "usr/bin/tool": { file: "#!/bin/sh\n", mode: 0o755 },
    ...extra,
  });
  return t.dir;
}

describe("compat check", () => {
  it("fails with exit 3 on a setuid file, and the JSON and JUnit name the file", () => {
    const dir = layout({ "usr/bin/su": { file: "x", mode: 0o4755 } });
    const junit = join(dir, "..", `${dir.split("/").pop()}.junit.xml`);
    const r = compat(
      "check",
      dir,
      "--arch",
      "x86_64",
      "--json",
      "--junit",
      junit,
      "--only",
      "setuid,special-files",
    );
    expect(r.status, r.stderr).toBe(3);
    const json = JSON.parse(r.stdout);
    const setuid = json.results.find((x: { id: string }) => x.id === "setuid");
    expect(setuid.status).toBe("fail");
    expect(setuid.evidence.files).toEqual([join(dir, "usr/bin/su")]);
    expect(json.summary).toMatchObject({ passed: 1, failed: 1 });
    expect(r.stderr).toContain("1 of 2 checks failed: setuid");
    expect(readFileSync(junit, "utf8")).toContain(`${join(dir, "usr/bin/su")}`);
  });

  it("passes a clean layout with exit 0 and prints a table", () => {
    const dir = layout();
    const r = compat("check", dir, "--arch", "x86_64", "--only", "setuid,world-writable,special-files");
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/pass\s+setuid/);
    expect(r.stdout).toContain("checks: 3 pass, 0 fail");
  });

  it("fails with exit 3 when no check ran to a verdict", () => {
    const dir = layout();
    const r = compat("check", dir, "--arch", "x86_64", "--only", "emerge");
    expect(r.status).toBe(3);
    expect(r.stderr).toContain("no check ran to a verdict");
  });

  it("rejects unknown check ids and a missing target with exit 2", () => {
    const dir = layout();
    const bad = compat("check", dir, "--only", "setuidd");
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("setuidd: did you mean setuid?");
    expect(compat("check", join(dir, "nope")).status).toBe(2);
  });

  it("lists the checks", () => {
    const r = compat("check", "--list", "--json");
    expect(r.status).toBe(0);
    const ids = JSON.parse(r.stdout).map((c: { id: string }) => c.id);
    expect(ids).toContain("elf-libraries");
    expect(ids.length).toBeGreaterThanOrEqual(20);
    const repo = JSON.parse(r.stdout).find((c: { id: string }) => c.id === "gentoo-repo-git");
    expect(repo.versions).toEqual({ except: ["2021.03"] });
    const table = compat("check", "--list");
    expect(table.stdout).toMatch(/^check +flavors +versions +EESSI/);
    expect(table.stdout).toMatch(/gentoo-repo-git +gentoo +all but 2021\.03 +GentooOverlayGitTest/);
  });
});
