import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { InputError } from "../errors.js";
import { COMPAT_VERSION } from "../version.js";
import {
  formatExecutor,
  parseCompatCommand,
  parseExecutor,
  sbatchOptions,
  sshDestination,
} from "./executor.js";
import { jobScript, parseSums } from "./job.js";

describe("parseExecutor", () => {
  it.each([
    ["local", { kind: "local" }],
    ["ssh:localhost", { kind: "ssh", host: "localhost" }],
    [
      "ssh:builder@arm1.example.org:2222",
      { kind: "ssh", user: "builder", host: "arm1.example.org", port: 2222 },
    ],
    ["slurm", { kind: "slurm" }],
    [
      "slurm:partition=riscv,constraint=zen4&avx512,time=2-00:00:00",
      { kind: "slurm", partition: "riscv", constraint: "zen4&avx512", time: "2-00:00:00" },
    ],
    ["slurm:time=90", { kind: "slurm", time: "90" }],
  ])("%s", (text, want) => {
    const e = parseExecutor(text);
    expect(e).toEqual(want);
    expect(formatExecutor(e)).toBe(text);
  });

  it.each([
    ["ssh:-oProxyCommand=touch /tmp/pwned", /not a host name/],
    ["ssh:-oProxyCommand=sh", /not a host name/],
    ["ssh:root@-oProxyCommand=x", /not a host name/],
    ["ssh:-l@host", /not a user name/],
    ["ssh:host name", /not a host name/],
    ["ssh:host;rm -rf /", /not a host name/],
    ["ssh:", /not a host name/],
    ["ssh:host:0", /not a port/],
    ["ssh:host:99999", /not a port/],
    ["ssh:host:22:33", /expected ssh/],
    ["ssh:a@b@c", /expected ssh/],
    ["slurm:partition=debug\n#SBATCH --wrap=id", /not a Slurm partition/],
    ["slurm:partition=debug,--wrap=id", /not a slurm option/],
    ["slurm:partition=-x", /not a Slurm partition/],
    ["slurm:partition=a b", /not a Slurm partition/],
    ["slurm:partition=", /not a Slurm partition/],
    ["slurm:partition=a,partition=b", /given twice/],
    ["slurm:constraint=a,b", /not a slurm option/],
    ["slurm:constraint=x'y", /not a Slurm constraint/],
    ["slurm:time=1h", /not a Slurm time limit/],
    ["slurm:", /nothing after/],
    ["slurm:account=x", /not a slurm option/],
    ["kubernetes", /unknown kind/],
    ["LOCAL", /unknown kind/],
  ])("refuses %j", (text, why) => {
    expect(() => parseExecutor(text, "--on")).toThrow(InputError);
    expect(() => parseExecutor(text, "--on")).toThrow(why);
  });

  it("gives ssh the port as an option and the destination alone", () => {
    const e = parseExecutor("ssh:u@h:2200");
    expect(e.kind === "ssh" && sshDestination(e)).toEqual({ args: ["-p", "2200"], destination: "u@h" });
  });

  it("gives sbatch one argument per option", () => {
    const e = parseExecutor("slurm:partition=p,constraint=c,time=5");
    expect(e.kind === "slurm" && sbatchOptions(e)).toEqual(["--partition=p", "--constraint=c", "--time=5"]);
  });

  it("checks the remote compat command", () => {
    expect(parseCompatCommand("node /opt/compat/dist/cli/bin.js", "x")).toEqual([
      "node",
      "/opt/compat/dist/cli/bin.js",
    ]);
    expect(() => parseCompatCommand("compat --evil", "x")).toThrow(InputError);
    expect(() => parseCompatCommand("", "x")).toThrow(InputError);
    expect(() => parseCompatCommand("compat\nrm", "x")).toThrow(InputError);
  });
});

describe("parseSums (what a build host reports)", () => {
  const sha = "a".repeat(64);
  it("reads sha256sum's output", () => {
    expect(parseSums(`${sha}  x.tar.zst\n${sha} *run-record.tar\n`, "h")).toEqual([
      { name: "x.tar.zst", sha256: sha },
      { name: "run-record.tar", sha256: sha },
    ]);
  });
  it.each([
    `${sha}  ../escape`,
    `${sha}  /etc/passwd`,
    `${sha}  sub/dir`,
    `${sha}  ..`,
    `${sha}  .`,
    `${"A".repeat(64)}  x`,
    `${sha.slice(1)}  x`,
    `${sha}  a\u0007b`,
    `${sha}  x\n${sha}  x`,
    "",
  ])("refuses %j", (text) => {
    expect(() => parseSums(text, "ssh:h")).toThrow(/SHA256SUMS|nothing to collect|twice/);
  });
});

describe("jobScript", () => {
  it("quotes every value: a hostile work dir and compat path are only names", () => {
    const base = mkdtempSync(join(tmpdir(), "compat-jobscript-"));
    try {
      const work = join(base, "w $(touch pwned) `touch pwned2`; x");
      mkdirSync(join(work, "jobs", "j1"), { recursive: true });
      const fakeCompat = join(base, "compat '$(touch pwned3)'");
      writeFileSync(fakeCompat, `#!/bin/sh\necho ${COMPAT_VERSION}\n`, { mode: 0o755 });
      const script = jobScript({ executor: { kind: "local" }, compat: [fakeCompat], workDir: work }, "j1", [
        'echo ran in "$(pwd)"',
        "$COMPAT --version",
      ]);
      writeFileSync(join(base, "job.sh"), script);
      const out = execFileSync("sh", [join(base, "job.sh")], { cwd: base, encoding: "utf8" });
      expect(out).toBe(`ran in ${work}\n${COMPAT_VERSION}\n`);
      expect(readFileSync(join(work, "jobs", "j1", "job.pid"), "utf8")).toMatch(/^\d+\n$/);
      for (const f of ["pwned", "pwned2", "pwned3"]) {
        expect(existsSync(join(base, f))).toBe(false);
        expect(existsSync(join(work, f))).toBe(false);
      }
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });

  it("exits 99 when the compat found is another version", () => {
    const base = mkdtempSync(join(tmpdir(), "compat-jobscript-"));
    try {
      mkdirSync(join(base, "jobs", "j"), { recursive: true });
      const other = join(base, "compat");
      writeFileSync(other, "#!/bin/sh\necho 0.0.1-other\n", { mode: 0o755 });
      writeFileSync(
        join(base, "job.sh"),
        jobScript({ executor: { kind: "local" }, compat: [other], workDir: base }, "j", ["echo not reached"]),
      );
      const r = execFileSyncStatus("sh", [join(base, "job.sh")]);
      expect(r.status).toBe(99);
      expect(r.stdout).toContain("compat 0.0.1-other on");
      expect(r.stdout).not.toContain("not reached");
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });
});

function execFileSyncStatus(cmd: string, args: string[]): { status: number; stdout: string } {
  try {
    return { status: 0, stdout: execFileSync(cmd, args, { encoding: "utf8" }) };
  } catch (e) {
    const err = e as { status: number; stdout: string };
    return { status: err.status, stdout: err.stdout };
  }
}
