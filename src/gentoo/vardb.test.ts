import { execFileSync } from "node:child_process";
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { UnsafePathError } from "../paths/rules.js";
import { parseContents } from "./contents.js";
import { parsePackageList } from "./qlist.js";
import { readVardb } from "./vardb.js";

const testdata = new URL("./testdata/", import.meta.url).pathname;

describe("readVardb on a prefix (src/gentoo/testdata/prefix)", () => {
  const db = readVardb(`${testdata}prefix`);

  it("reads good entries with all their metadata, in vdb order", () => {
    expect(db.packages.map((p) => p.cpv)).toEqual([
      "dev-lang/python-3.11.8_p1",
      "dev-lang/python-3.12.3",
      "dev-libs/openssl-1.1.1w",
      "sys-libs/zlib-1.2.13-r1",
    ]);
    const ssl = db.packages.find((p) => p.name === "openssl")!;
    expect(ssl).toMatchObject({
      cp: "dev-libs/openssl",
      version: "1.1.1w",
      slot: "0",
      subSlot: "1.1",
      repo: "gentoo",
      eapi: "7",
      buildTime: 1694698236,
      counter: 1207,
    });
    expect(ssl.use).toContain("zlib");
    expect(ssl.iuse).toContain("+asm");
    expect(ssl.keywords).toContain("amd64");
    expect(db.packages.find((p) => p.version === "3.12.3")).toMatchObject({ slot: "3.12", repo: "eessi" });
  });

  it("reports every corrupt or partial entry with its path and skips it", () => {
    const problems = db.problems.map((p) => `${p.path.slice(db.directory.length + 1)}: ${p.message}`).sort();
    expect(problems).toEqual([
      'app-misc/badslot-1.0: corrupt SLOT "/x"; skipped',
      "app-misc/noslot-1.0: partial entry: no SLOT; skipped",
      "dev-libs/broken-entry: invalid entry: the directory name is not <name>-<version>; skipped",
      'sys-apps/mismatch-1.0: PF says "other-1.0", the directory says "mismatch-1.0"; skipped',
      'sys-libs/zlib-1.2.13-r1/COUNTER: not a number: "12x"',
    ]);
  });

  it("parses CONTENTS only when asked, from the right so paths may hold spaces", () => {
    const ssl = db.packages.find((p) => p.name === "openssl")!;
    expect(JSON.stringify(ssl)).not.toContain("contents");
    const entries = ssl.contents();
    expect(entries).toHaveLength(5);
    expect(entries[3]).toEqual({
      type: "sym",
      path: "/cvmfs/software.eessi.io/versions/2023.06/compat/linux/x86_64/usr/lib64/libssl.so",
      target: "libssl.so.1.1",
      mtime: 1694698230,
    });
    expect(entries[4]).toMatchObject({ type: "obj", md5: "d41d8cd98f00b204e9800998ecf8427e" });
    expect(entries[4]!.path.endsWith("/a file with spaces.txt")).toBe(true);
    expect(db.problems.at(-1)!.message).toMatch(/not a CONTENTS line: "garbage line"/);
  });

  it("reads only the selected packages' metadata when asked", () => {
    const some = readVardb(`${testdata}prefix`, { only: (cp) => cp === "dev-lang/python" });
    expect(some.entries.length).toBe(7);
    expect(some.packages.map((p) => p.slot)).toEqual(["3.11", "3.12"]);
  });

  it("reads the old-style stat tuple of a symlink", () => {
    const { entries, problems } = parseContents(
      "sym /usr/lib/a -> b (1234, 5L, 6L, 7, 8, 9, 10L, 11, 1290000000, 12)\nobj /x y z\n",
    );
    expect(entries).toEqual([{ type: "sym", path: "/usr/lib/a", target: "b", mtime: 1290000000 }]);
    expect(problems).toEqual([{ line: 2, message: 'not a CONTENTS line: "obj /x y z"' }]);
  });
});

describe("Portage 3.0.82's consolidated metadata file", () => {
  const root = mkdtempSync(join(tmpdir(), "compat-vdb-"));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const entry = (pf: string) => {
    const dir = join(root, "var/db/pkg/sys-libs", pf);
    mkdirSync(dir, { recursive: true });
    return dir;
  };
  const stamp = (dir: string, body: string, mtimeNs?: bigint) => {
    writeFileSync(join(dir, "metadata"), `#format=1\n${body}`);
    const ns = mtimeNs ?? statSync(dir, { bigint: true }).mtimeNs;
    writeFileSync(join(dir, "metadata"), `#format=1\n${body}#dir_mtime=${ns}\n`);
  };

  it("trusts a snapshot whose dir_mtime is the directory's, even without per-field files", () => {
    const dir = entry("glibc-2.37-r7");
    stamp(dir, "EAPI=8\nSLOT=2.2\nUSE=multiarch\nrepository=gentoo\n");
    expect(readVardb(root).packages[0]).toMatchObject({
      cpv: "sys-libs/glibc-2.37-r7",
      slot: "2.2",
      eapi: "8",
    });
  });

  it("falls back to the per-field files when the snapshot is stale", () => {
    const dir = entry("zlib-1.3");
    writeFileSync(join(dir, "SLOT"), "0/1\n");
    stamp(dir, "SLOT=9\n", 1n);
    utimesSync(dir, new Date(), new Date());
    expect(readVardb(root).packages.find((p) => p.name === "zlib")).toMatchObject({
      slot: "0",
      subSlot: "1",
    });
  });
});

describe("parsePackageList (qlist -IRv, EESSI reprod packages.txt)", () => {
  const { packages, problems } = parsePackageList(
    readFileSync(`${testdata}packages.txt`, "utf8"),
    "packages.txt",
  );

  it("reads cpv, repository and the optional slot and USE forms", () => {
    expect(packages.map((p) => [p.cpv, p.slot, p.repo])).toEqual([
      ["app-arch/bzip2-1.0.8-r4", undefined, "gentoo"],
      ["dev-libs/openssl-1.1.1w", undefined, "gentoo"],
      ["sys-libs/db-5.3.28-r9", "5.3", "gentoo"],
      ["dev-lang/python-3.11.8_p1", "3.11", "gentoo"],
      ["app-arch/xz-utils-5.8.2", undefined, "eessi"],
    ]);
    expect(packages[3]).toMatchObject({ use: ["X", "ssl"], source: "packages.txt:6" });
  });

  it("reports bad lines with their line numbers", () => {
    expect(problems.map((p) => p.line)).toEqual([4, 8, 9]);
    expect(problems[0]!.message).toMatch(/not a package: "app-arch\/cpio:0::gentoo"/);
  });
});

describe("a hostile vdb: nothing blocks, nothing is read from outside it", () => {
  const root = mkdtempSync(join(tmpdir(), "compat-vdb-hostile-"));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const cat = join(root, "var/db/pkg/sys-libs");
  mkdirSync(join(cat, "zlib-1.3"), { recursive: true });
  writeFileSync(join(cat, "zlib-1.3/SLOT"), "0\n");
  mkdirSync(join(cat, "glibc-2.37"));
  execFileSync("mkfifo", [join(cat, "glibc-2.37/SLOT")]);
  mkdirSync(join(cat, "ncurses-6.4"));
  writeFileSync(join(root, "outside-slot"), "7\n");
  symlinkSync(join(root, "outside-slot"), join(cat, "ncurses-6.4/SLOT"));
  mkdirSync(join(root, "elsewhere/readline-8.2"), { recursive: true });
  writeFileSync(join(root, "elsewhere/readline-8.2/SLOT"), "0\n");
  symlinkSync(join(root, "elsewhere/readline-8.2"), join(cat, "readline-8.2"));

  it("a FIFO, a symlinked file and a symlinked entry are problems, the good entry is read", () => {
    const vdb = readVardb(root);
    expect(vdb.packages.map((p) => p.cpv)).toEqual(["sys-libs/zlib-1.3"]);
    const byPath = (end: string) => vdb.problems.find((p) => p.path.endsWith(end))?.message;
    expect(byPath("glibc-2.37")).toMatch(/not a regular file/);
    expect(byPath("ncurses-6.4")).toMatch(/ELOOP|symbolic link/i);
    expect(byPath("readline-8.2")).toMatch(/not a directory \(a symlink/);
  });
});

describe("a vdb that is a symlink", () => {
  const root = mkdtempSync(join(tmpdir(), "compat-vdb-linked-"));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  // another system's vdb (the build host's /var/db/pkg, say), outside the prefix
  mkdirSync(join(root, "host/pkg/app-misc/secret-1.0"), { recursive: true });
  writeFileSync(join(root, "host/pkg/app-misc/secret-1.0/SLOT"), "0\n");

  it.each([
    ["var/db/pkg", "host/pkg"],
    ["var/db", "host"],
    ["var", "host"],
  ])("%s linked out of the prefix is refused, nothing is listed", (link, to) => {
    const prefix = join(root, `prefix-${link.replaceAll("/", "-")}`);
    mkdirSync(join(prefix, link, ".."), { recursive: true });
    // for var and var/db, the link's target must hold the rest of the path
    if (link !== "var/db/pkg") mkdirSync(join(root, "host", link === "var" ? "db" : ""), { recursive: true });
    if (link === "var") symlinkSync(join(root, "host/pkg"), join(root, "host/db/pkg"));
    else if (link === "var/db") mkdirSync(join(root, "host/pkg"), { recursive: true });
    symlinkSync(join(root, to), join(prefix, link));
    expect(() => readVardb(prefix)).toThrow(UnsafePathError);
    expect(() => readVardb(prefix)).toThrow(/the vardb: "var\/db\/pkg" leads through the symlink/);
  });

  it("a link inside the prefix is followed", () => {
    const prefix = join(root, "prefix-inside");
    mkdirSync(join(prefix, "var/db"), { recursive: true });
    mkdirSync(join(prefix, "real-pkg/sys-libs/zlib-1.3"), { recursive: true });
    writeFileSync(join(prefix, "real-pkg/sys-libs/zlib-1.3/SLOT"), "0\n");
    symlinkSync("../../real-pkg", join(prefix, "var/db/pkg"));
    expect(readVardb(prefix).packages.map((p) => p.cpv)).toEqual(["sys-libs/zlib-1.3"]);
  });
});
