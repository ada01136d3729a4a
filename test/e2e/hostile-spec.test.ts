/**
 * Issue 10, findings 1–3 and the spec loader's crashes, tried as a user (and an attacker) would:
 * a spec whose values lead out of their directory is refused by `compat plan`, `compat build
 * --dry-run` and `compat build` with exit 2 naming the field and its line, before anything is
 * written; a canary file and directory outside the root survive each attempt.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { canaryPerTest } from "../helpers/canary.js";
import { compat, projectRoot } from "../helpers/cli.js";

const canary = canaryPerTest("hostile-spec");
// a repository name of this run's own: nothing here depends on the host's /cvmfs
const REPO = `hostile-${process.pid}.example.org`;

/** Everything under `canary.work` (the canary included), to compare before and after. */
function tree(dir = canary.work): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" }).sort();
}

function writeSpec(body: string): string {
  const file = join(canary.work, "spec.yaml");
  writeFileSync(file, `repository: ${REPO}\nstack: dev\nversion: "2025.06"\narches: [x86_64]\n${body}`);
  return file;
}

/** `compat plan`, `build --dry-run` and `build` of the spec: each exit 2 with `want`, nothing written. */
function refusedEverywhere(spec: string, want: RegExp) {
  const before = tree();
  const root = join(canary.work, "root");
  for (const args of [
    ["plan", spec, "--arch", "x86_64"],
    ["build", spec, "--arch", "x86_64", "--root", root, "--dry-run"],
    ["build", spec, "--arch", "x86_64", "--root", root, "--runs-dir", join(canary.work, "runs")],
  ]) {
    const r = compat(args, { cwd: canary.work });
    expect(r.status, `${args.join(" ")}: ${r.stderr}`).toBe(2);
    expect(r.stderr).toMatch(want);
    expect(r.stderr).not.toMatch(/internal error/);
  }
  expect(tree()).toEqual(before);
  expect(readFileSync(join(canary.dir, "canary"), "utf8")).toBe("keep\n");
  expect(readFileSync(join(canary.dir, "sub", "canary"), "utf8")).toBe("keep too\n");
}

describe("a spec is refused before anything is written when a value leads out of its directory", () => {
  it("finding 1: a hostSymlinks entry with `..`, and `/`", () => {
    const upAndOut = `/etc/${"../".repeat(25)}${canary.dir.slice(1)}`;
    const spec = writeSpec(
      `flavor: debian\ndebian: { suite: bookworm }\nhostSymlinks:\n  - /etc/passwd\n  - ${upAndOut}\nvariantSymlinks: { enabled: false }\n`,
    );
    refusedEverywhere(spec, /spec\.yaml:9:5 hostSymlinks\[1\]: ".*": has a "\.\." component/);
    const slash = writeSpec(`flavor: debian\ndebian: { suite: bookworm }\nhostSymlinks: ["/"]\n`);
    refusedEverywhere(slash, /spec\.yaml:7:16 hostSymlinks\[0\]: "\/": is "\/" itself, nothing below it/);
    const dest = writeSpec(
      `flavor: debian\ndebian: { suite: bookworm }\nhostSymlinks:\n  - { src: /tmp, dest: "{prefix}/../../x" }\n`,
    );
    refusedEverywhere(dest, /spec\.yaml:8:\d+ hostSymlinks\[0\]\.dest: .*"\.\." component/);
  });

  it("finding 2: a gentoo packageEnvFiles key with `..`", () => {
    const key = `env/${"../".repeat(30)}${canary.dir.slice(1)}/PWNED.conf`;
    const spec = writeSpec(
      `flavor: gentoo\ngentoo:\n  repository: { commit: ${"a".repeat(40)} }\n  packageEnvFiles:\n    "${key}": 'echo pwned'\n`,
    );
    refusedEverywhere(
      spec,
      /spec\.yaml:9:5 gentoo\.packageEnvFiles\..*PWNED\.conf: the key ".*": has a "\.\." component/,
    );
    expect(existsSync(join(canary.dir, "PWNED.conf"))).toBe(false);
  });

  it("finding 3: a prefix that leaves /cvmfs/{repository}/", () => {
    const spec = writeSpec(
      `flavor: debian\ndebian: { suite: bookworm }\nprefix: /cvmfs/{repository}/../x/{arch}\n`,
    );
    refusedEverywhere(spec, /spec\.yaml:7:9 prefix: ".*": has a "\.\." component/);
    expect(existsSync(join(canary.work, "x"))).toBe(false);
  });

  it("every other path-bearing field, reported together with its line", () => {
    const spec = writeSpec(`flavor: gentoo
root: ../elsewhere
locales: ["../../x UTF-8"]
gentoo:
  repository: { commit: ${"a".repeat(40)} }
  makeConf: { "..": "x" }
  sets: [".."]
  trustedDirs: ['/x" ; touch /tmp/pwned ; "']
  bootstrap: { script: { path: /etc/shadow } }
checks: { requiredTools: ["../bin/sh"] }
`);
    const r = compat(["plan", spec], { cwd: canary.work });
    expect(r.status).toBe(2);
    for (const want of [
      /spec\.yaml:6:7 root: "\.\.\/elsewhere": has a "\.\." component/,
      /spec\.yaml:7:11 locales\[0\]: ".*": contains a "\/"/,
      /spec\.yaml:10:15 gentoo\.makeConf\["\.\."\]: the key "\.\.": is "\.\."/,
      /spec\.yaml:11:10 gentoo\.sets\[0\]: "\.\.": is "\.\."/,
      /spec\.yaml:12:17 gentoo\.trustedDirs\[0\]: .*a quote/,
      /spec\.yaml:13:32 gentoo\.bootstrap\.script\.path: "\/etc\/shadow": is absolute/,
      /spec\.yaml:14:27 checks\.requiredTools\[0\]: "\.\.\/bin\/sh": contains a "\/"/,
    ])
      expect(r.stderr).toMatch(want);
  });

  it("a set name that a placeholder makes a path, and host links inside one another or over what the build writes", () => {
    const spec = writeSpec(`flavor: gentoo
gentoo:
  repository: { commit: ${"a".repeat(40)} }
  packageEnvFiles: { env/x: "y" }
  sets: ["{prefix}"]
hostSymlinks:
  - { src: /tmp, dest: opt/x }
  - { src: /x, dest: "{prefix}/opt/x/y" }
`);
    const r = compat(["plan", spec], { cwd: canary.work });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/spec\.yaml:9:10 gentoo\.sets\[0\]: "\/cvmfs\/.*" contains a "\/"/);
    expect(r.stderr).toMatch(/spec\.yaml:12:5 hostSymlinks\[1\]: opt\/x\/y is inside the host link opt\/x/);
    const over = writeSpec(`flavor: gentoo
gentoo:
  repository: { commit: ${"a".repeat(40)} }
  packageEnvFiles: { env/x: "y" }
hostSymlinks: [/etc/portage, /reprod]
`);
    const o = compat(["plan", over], { cwd: canary.work });
    expect(o.status).toBe(2);
    expect(o.stderr).toMatch(
      /spec\.yaml:9:16 hostSymlinks\[0\]: etc\/portage is a host link, and the build writes etc\/portage\/env\/x/,
    );
    expect(o.stderr).toMatch(
      /hostSymlinks\[1\]: reprod is a host link, and the build writes reprod \(the build record\)/,
    );
  });

  it("an imported Ansible vars file gets the same rules", () => {
    const role = join(projectRoot, "../shared/data/eessi/compatibility-layer");
    const vars = readFileSync(join(role, "vars_2025.06.yml"), "utf8")
      .replace("    env/test.conf: |", "    env/../../../../tmp/PWNED.conf: |")
      .replace(
        'eessi_version: "2025.06"',
        'eessi_version: "2025.06"\ngentoo_prefix_path: /cvmfs/{{ cvmfs_repository }}/../x/{{ eessi_host_arch }}',
      );
    const file = join(canary.work, "vars.yml");
    writeFileSync(file, vars);
    const out = join(canary.work, "imported.yaml");
    const r = compat(["import-ansible", join(role, "defaults_main.yml"), file, "-o", out], {
      cwd: canary.work,
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/vars\.yml:4:21 prefix: has a "\.\." component/);
    expect(r.stderr).toMatch(
      /vars\.yml:\d+:\d+ gentoo\.packageEnvFiles\.env\/\.\.\/.*PWNED\.conf: the key ".*": has a "\.\." component/,
    );
    expect(existsSync(out)).toBe(false);
  });
});

describe("a spec file that is not YAML text is a clear error, exit 2", () => {
  const plan = (file: string) => compat(["plan", file], { cwd: canary.work });

  it("an alias bomb (billion laughs)", () => {
    const lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 9; i++) {
      const [prev, cur] = [String.fromCharCode(96 + i), String.fromCharCode(97 + i)];
      lines.push(`${cur}: &${cur} [${Array(9).fill(`*${prev}`).join(",")}]`);
    }
    const file = join(canary.work, "bomb.yaml");
    writeFileSync(file, `${lines.join("\n")}\n`);
    const r = plan(file);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/bomb\.yaml:2:8 YAML: its aliases expand to more than 100 nodes/);
  });

  it("a binary file, a Latin-1 file, a directory, a FIFO and a file of 5 MiB", () => {
    const cases: Array<[string, () => string, RegExp]> = [
      [
        "binary",
        () => writeFileReturning("bin.yaml", Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1])),
        /a binary file \(a NUL byte at offset 4\)/,
      ],
      [
        "latin-1",
        () => writeFileReturning("latin1.yaml", Buffer.from("repository: x\nstack: d\xe9v\n", "latin1")),
        /line 2 is not UTF-8 text/,
      ],
      ["directory", () => mkdirReturning("dir.yaml"), /it is a directory, not a file/],
      ["fifo", () => fifo("fifo.yaml"), /not a regular file/],
      ["huge", () => huge("huge.yaml"), /has 5242880 bytes; a layer spec has at most 4194304/],
    ];
    for (const [what, make, want] of cases) {
      const r = plan(make());
      expect(r.status, what).toBe(2);
      expect(r.stderr, what).toMatch(want);
      expect(r.stderr, what).not.toMatch(/internal error/);
    }
  });
});

function writeFileReturning(name: string, data: Buffer): string {
  writeFileSync(join(canary.work, name), data);
  return join(canary.work, name);
}
function mkdirReturning(name: string): string {
  mkdirSync(join(canary.work, name));
  return join(canary.work, name);
}
function fifo(name: string): string {
  execFileSync("mkfifo", [join(canary.work, name)]);
  return join(canary.work, name);
}
function huge(name: string): string {
  writeFileSync(join(canary.work, name), "");
  truncateSync(join(canary.work, name), 5 * 1024 * 1024);
  return join(canary.work, name);
}
