import { describe, expect, it } from "vitest";
import { backupPath, nextBackupName } from "./publisher.js";
import { parseTarget } from "./target.js";

describe("publish targets", () => {
  it("parses local and cvmfs targets", () => {
    expect(parseTarget("local:/srv/repo")).toEqual({ kind: "local", root: "/srv/repo" });
    expect(parseTarget("cvmfs:software.eessi.io")).toEqual({
      kind: "cvmfs",
      repository: "software.eessi.io",
    });
    expect(parseTarget("cvmfs:software.eessi.io@admin@stratum0")).toEqual({
      kind: "cvmfs",
      repository: "software.eessi.io",
      host: "admin@stratum0",
    });
  });

  it.each([
    "local:",
    "cvmfs:",
    "cvmfs:nodots",
    "cvmfs:repo.org@",
    "s3:bucket",
    "cvmfs:repo.org@-oProxyCommand=touch /tmp/pwned",
    "cvmfs:repo.org@host name",
  ])("rejects %s", (t) => {
    expect(() => parseTarget(t)).toThrow(/--to/);
  });

  it("numbers kept layers one above the highest", () => {
    expect(nextBackupName(["x86_64", "aarch64"], "x86_64")).toBe(".x86_64-001");
    expect(nextBackupName([".x86_64-001", ".x86_64-009", ".aarch64-012", ".x86_64.staging"], "x86_64")).toBe(
      ".x86_64-010",
    );
  });

  it("joins only a kept layer's name from the history, nothing else", () => {
    const join = (a: string, b: string) => `${a}/${b}`;
    expect(backupPath("/r/versions/1/compat/linux", "x86_64", ".x86_64-003", join)).toBe(
      "/r/versions/1/compat/linux/.x86_64-003",
    );
    for (const bad of ["../../etc", ".x86_64-003/../..", ".aarch64-001", "x86_64", "", ".x86_64-1"])
      expect(() => backupPath("/r", "x86_64", bad, join)).toThrow(/kept layer/);
  });
});
