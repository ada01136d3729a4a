import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { InputError } from "../errors.js";
import { formatPackageList, parseDpkgStatus, readDpkgStatus } from "./status.js";

const fixture = (name: string) => readFileSync(new URL(`./testdata/${name}`, import.meta.url), "utf8");

describe("parseDpkgStatus", () => {
  it("reads real stanzas from a Debian 12 status file", () => {
    const db = parseDpkgStatus(fixture("status-bookworm"));
    expect(db.problems).toEqual([]);
    expect(db.packages.map((p) => p.name)).toEqual([
      "base-files",
      "bash",
      "coreutils",
      "libc6",
      "libgcc-s1",
      "libssl3",
      "python3",
      "tzdata",
    ]);
    const bash = db.packages.find((p) => p.name === "bash")!;
    expect(bash.source).toBe("bash");
    expect(bash.sourceVersion).not.toBe(bash.version); // a binNMU: "Source: bash (5.2.15-2)", "Version: 5.2.15-2+b…"
    expect(bash.version.startsWith(`${bash.sourceVersion}+b`)).toBe(true);
    const libc = db.packages.find((p) => p.name === "libc6")!;
    expect(libc).toMatchObject({ source: "glibc", architecture: "amd64", multiArch: "same" });
    expect(libc.sourceVersion).toBe(libc.version);
    expect(db.packages.find((p) => p.name === "tzdata")!.architecture).toBe("all");
  });

  it("reports and skips odd stanzas, keeping the good ones", () => {
    const db = parseDpkgStatus(fixture("status-broken"));
    expect(db.packages.map((p) => `${p.name} ${p.version} ${p.status}`)).toEqual([
      "hello 2.10-3 install ok installed",
      "libfoo1 1.0-1+b2 hold ok installed",
      "tail-without-newline 0.5 install ok installed",
    ]);
    expect(db.packages[1]).toMatchObject({ source: "foo", sourceVersion: "1.0-1", architecture: "arm64" });
    expect(db.notInstalled).toBe(2); // deinstall ok config-files, install ok half-configured
    const problems = db.problems.map((p) => `${p.line} ${p.package ?? "-"}: ${p.message}`);
    expect(problems).toEqual([
      "15 -: stanza has no Package field",
      expect.stringMatching(/^25 bad-version: invalid Debian version ":1.0": epoch in version is empty/),
      '30 garbled: line 32: not a field ("this line has no colon")',
      "36 twice-versioned: line 40: duplicate field Version",
      "42 no-arch: installed package has no Architecture field",
      '46 short-status: Status "install installed" is not three words (want flag state)',
      "51 leading-continuation: line 51: continuation line before any field",
      "57 hello: a second stanza for hello:amd64",
    ]);
  });

  it("keeps multi-line fields out of the way and accepts CRLF", () => {
    const db = parseDpkgStatus(
      "Package: a\r\nStatus: install ok installed\r\nArchitecture: all\r\nVersion: 1\r\nDescription: x\r\n y\r\n",
    );
    expect(db.packages).toHaveLength(1);
    expect(db.problems).toEqual([]);
  });

  it("formats a sorted package list", () => {
    const db = parseDpkgStatus(fixture("status-broken"));
    expect(formatPackageList(db.packages)).toBe(
      "hello:amd64 2.10-3\nlibfoo1:arm64 1.0-1+b2\ntail-without-newline:all 0.5\n",
    );
  });
});

describe("readDpkgStatus", () => {
  it("names the missing file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "status-"));
    try {
      await expect(readDpkgStatus(dir)).rejects.toThrow(InputError);
      await expect(readDpkgStatus(dir)).rejects.toThrow(/var\/lib\/dpkg\/status: cannot read/);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it("follows a link inside the tree, and refuses one that leads to the host's database", async () => {
    const dir = mkdtempSync(join(tmpdir(), "status-"));
    try {
      mkdirSync(join(dir, "var/lib/dpkg"), { recursive: true });
      mkdirSync(join(dir, "srv"));
      writeFileSync(
        join(dir, "srv/status"),
        "Package: a\nStatus: install ok installed\nVersion: 1\nArchitecture: amd64\n",
      );
      symlinkSync("../../../srv/status", join(dir, "var/lib/dpkg/status"));
      expect((await readDpkgStatus(dir)).packages.map((p) => p.name)).toEqual(["a"]);
      rmSync(join(dir, "var/lib/dpkg/status"));
      symlinkSync("/var/lib/dpkg/status", join(dir, "var/lib/dpkg/status"));
      await expect(readDpkgStatus(dir)).rejects.toThrow(InputError);
      await expect(readDpkgStatus(dir)).rejects.toThrow(/-> \/var\/lib\/dpkg\/status, outside/);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it("refuses a FIFO as the status without blocking", async () => {
    const dir = mkdtempSync(join(tmpdir(), "status-"));
    try {
      mkdirSync(join(dir, "var/lib/dpkg"), { recursive: true });
      execFileSync("mkfifo", [join(dir, "var/lib/dpkg/status")]);
      await expect(readDpkgStatus(dir)).rejects.toThrow(/not a regular file/);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  // On a Debian machine dpkg-query is the reference for the host's own database.
  const query = spawnSync(
    "dpkg-query",
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a dpkg-query format string, not a template
    ["-W", "-f", "${db:Status-Abbrev} ${Package}:${Architecture} ${Version}\n"],
    {
      encoding: "utf8",
    },
  );
  it.skipIf(query.status !== 0)("agrees with dpkg-query on this machine's database", async () => {
    const db = await readDpkgStatus("/");
    const expected = query.stdout
      .split("\n")
      .filter((l) => /^[ih]i /.test(l))
      .map((l) => l.slice(4))
      .sort();
    expect(db.problems).toEqual([]);
    expect(db.packages.map((p) => `${p.name}:${p.architecture} ${p.version}`).sort()).toEqual(expected);
  });
});
