/**
 * Builds run inside a build root (issue 18, part 2), exercised with a real one (bookworm minbase +
 * g++, git, make, patch made by mmdebstrap through ensureBuildRoot, shared by test files):
 * the sandbox shows it as `/` and nothing of the host's userland; a build root whose entries are
 * symlinks to the host's directories does not reach them; the gentoo flavor's stages up to what
 * needs Gentoo's mirrors run in it (the checkout against a local git repository with the build
 * root's git, the Portage files, the bootstrap script, a fixture that records the compiler it
 * sees); the debian flavor's checks run in it and pass; the build record names it.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseRecordedBuildRoot } from "../../src/buildroot/record.js";
import type { BuildRoot } from "../../src/buildroot/types.js";
import { runCheckStage } from "../../src/checks/stage.js";
import { InputError } from "../../src/errors.js";
import { runInLayer } from "../../src/exec/sandbox.js";
import { api as gentooApi } from "../../src/flavors/gentoo/index.js";
import type { StageContext } from "../../src/flavors/types.js";
import { TEST_BUILD_ROOT, TEST_STATE_DIR, testBuildRoot } from "../helpers/build-root.js";
import { compat } from "../helpers/cli.js";
import { devLayer } from "../helpers/dev-layer.js";
import { git, standInGentooRepo } from "../helpers/gentoo-git.js";
import { stageContext } from "../helpers/stage-context.js";

const TESTDATA = join(import.meta.dirname, "../../src/flavors/gentoo/testdata");
const PREFIX = "/cvmfs/software.example.org/versions/2026.06/compat/linux/x86_64";
/** A tool only the host has: written into the host's /usr/local/bin by this file, removed after. */
const HOST_ONLY = "/usr/local/bin/compat-host-only-tool";
const isRoot = process.getuid?.() === 0;

let root: BuildRoot;
let scratch: string;
let gitRepo: string;
let commit: string;

beforeAll(async () => {
  root = await testBuildRoot();
  scratch = mkdtempSync(join(tmpdir(), "compat-build-root-"));
  chmodSync(scratch, 0o755);
  gitRepo = join(scratch, "gentoo.git");
  [commit] = standInGentooRepo(gitRepo) as [string];
  if (isRoot) writeFileSync(HOST_ONLY, "#!/bin/sh\necho host\n", { mode: 0o755 });
}, 600_000);

afterAll(() => {
  if (isRoot) rmSync(HOST_ONLY, { force: true });
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

function prefixMount(name: string) {
  const prefixDir = join(scratch, name, "prefix");
  mkdirSync(prefixDir, { recursive: true });
  return { prefixDir, prefix: PREFIX };
}

describe("the sandbox in a build root", () => {
  it("shows the build root as / (its compiler, from its dpkg database), read-only, and none of the host's userland", async () => {
    const mount = prefixMount("view");
    const script = [
      "command -v gcc",
      "dpkg -S $(readlink -f $(command -v gcc)) | head -n 1",
      ". /etc/os-release; echo $VERSION_CODENAME",
      "command -v compat-host-only-tool || echo no-host-tool",
      "touch /usr/x 2>/dev/null || echo usr-read-only",
      "touch /etc/x 2>/dev/null || echo etc-read-only",
      `touch ${PREFIX}/written && echo prefix-writable`,
      "touch /tmp/t /var/tmp/t && echo tmp-writable",
    ].join("; ");
    const r = await runInLayer(mount, ["/bin/sh", "-c", script], { root: root.dir, network: false });
    const lines = r.stdout.trim().split("\n");
    expect(lines[0]).toBe("/usr/bin/gcc");
    expect(lines[1]).toMatch(/^gcc-12: \/usr\/bin\/x86_64-linux-gnu-gcc-12$/);
    expect(lines[2]).toBe("bookworm");
    expect(lines.slice(3)).toEqual([
      "no-host-tool",
      "usr-read-only",
      "etc-read-only",
      "prefix-writable",
      "tmp-writable",
    ]);
    expect(existsSync(join(mount.prefixDir, "written"))).toBe(true);
    // the host's tool is there outside a build root (the contrast that makes the check mean something)
    if (isRoot) {
      const onHost = await runInLayer(mount, ["/bin/sh", "-c", "command -v compat-host-only-tool"]);
      expect(onHost.stdout.trim()).toBe(HOST_ONLY);
    }
    // nothing was written into the build root
    expect(existsSync(join(root.dir, "usr/x"))).toBe(false);
    expect(readdirSync(join(root.dir, "tmp"))).toEqual([]);
  });

  it("with the network, the host's resolv.conf; without, none of the host's files", async () => {
    const mount = prefixMount("net");
    const host = existsSync("/etc/resolv.conf") ? readFileSync("/etc/resolv.conf", "utf8") : "";
    const on = await runInLayer(mount, ["cat", "/etc/resolv.conf"], { root: root.dir, okStatuses: [0, 1] });
    expect(on.stdout).toBe(host);
    const hosts = await runInLayer(mount, ["/bin/sh", "-c", "test -e /etc/hosts && echo yes || echo no"], {
      root: root.dir,
      network: false,
    });
    expect(hosts.stdout.trim()).toBe(existsSync(join(root.dir, "etc/hosts")) ? "yes" : "no");
  });

  it("a build root whose /tmp and /var/tmp are links to the host's directories does not reach them", async () => {
    // a tampered cache: a copy of the build root (hard links) whose tmp dirs point at the host's
    const hostile = join(root.dir, "../../..", `hostile-${process.pid}`);
    const victim = join(scratch, "victim");
    mkdirSync(victim);
    writeFileSync(join(victim, "secret"), "host\n");
    try {
      mkdirSync(join(hostile, "var"), { recursive: true });
      execFileSync("cp", ["-al", join(root.dir, "usr"), join(root.dir, "etc"), hostile]);
      for (const l of ["bin", "lib", "lib64", "sbin"]) symlinkSync(`usr/${l}`, join(hostile, l));
      symlinkSync(victim, join(hostile, "tmp"));
      symlinkSync(victim, join(hostile, "var/tmp"));
      const mount = prefixMount("hostile");
      const r = await runInLayer(
        mount,
        ["/bin/sh", "-c", "ls -A /tmp; ls -A /var/tmp; touch /tmp/a /var/tmp/b && echo written"],
        { root: hostile, network: false },
      );
      expect(r.stdout.trim()).toBe("written");
      expect(readdirSync(victim)).toEqual(["secret"]);
      // a bind that would be mounted through a link of the build root is refused, naming it
      rmSync(join(hostile, "etc"), { recursive: true });
      symlinkSync("/etc", join(hostile, "etc"));
      const err = await runInLayer(mount, ["true"], { root: hostile }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InputError);
      expect((err as InputError).message).toMatch(
        /build root .*: \/etc is a symlink \(to \/etc\), and \/etc\/resolv\.conf would be mounted through it/,
      );
    } finally {
      rmSync(hostile, { recursive: true, force: true });
    }
  });
});

describe("the gentoo flavor's stages in a build root", () => {
  const specText = (script: string) => `
repository: software.example.org
stack: eessi
version: "2026.06"
arches: [x86_64]
flavor: gentoo
gentoo:
  repository: { url: "file://${gitRepo}", branch: master, commit: ${commit} }
  packageMask: ">=sys-devel/gcc-15"
  bootstrap:
    script: { path: "${script}" }
    requiredSpace: "1 MB"
`;

  const context = (name: string, script = "record-build-env.sh") =>
    stageContext({
      scratch,
      name,
      specText: specText(script),
      specFile: join(TESTDATA, "gentoo.yaml"),
      buildRoot: root,
    });
  const stage = (ctx: StageContext, id: string) => gentooApi.plan(ctx.layer).find((s) => s.id === id)!;

  it("preflight, repos, configure and bootstrap run with the build root's tools, not the host's", async () => {
    const ctx = context("gentoo");
    await stage(ctx, "preflight").run(ctx);
    expect(
      ctx.notes.some((n) => /^build root [0-9a-f]{12} \(bookworm, \d+ packages\) has git, gcc/.test(n)),
    ).toBe(true);
    // the checkout, with the build root's git, of a local repository bound read-only
    await stage(ctx, "repos").run(ctx);
    const tree = join(ctx.prefixDir, "var/db/repos/gentoo");
    expect(git(tree, "rev-parse", "HEAD")).toBe(commit);
    expect(existsSync(join(tree, ".unpacked"))).toBe(true);
    expect(await gentooApi.sourceDateEpoch(ctx)).toMatchObject({
      epoch: Number(git(gitRepo, "log", "-1", "--format=%ct")),
    });
    await stage(ctx, "configure").run(ctx);
    expect(readFileSync(join(ctx.prefixDir, "etc/portage/package.mask"), "utf8")).toBe(
      ">=sys-devel/gcc-15\n",
    );
    // the fixture bootstraps nothing: the stage then misses startprefix, after running it twice
    const err = (await stage(ctx, "bootstrap")
      .run(ctx)
      .catch((e: unknown) => e)) as Error;
    expect(err.message).toBe(`bootstrap-prefix.sh finished but ${PREFIX}/startprefix is missing`);
    const env = readFileSync(join(ctx.prefixDir, "build-env.txt"), "utf8").trim().split("\n");
    expect(env).toHaveLength(2 * 9);
    const gccPackage = root.packages.find((p) => p.name === "gcc-12")!;
    expect(env.slice(0, 9)).toEqual([
      `args=${PREFIX} noninteractive`,
      isRoot ? "uid=1001 user=portage" : `uid=${process.getuid?.()} user=${env[1]!.split("user=")[1]}`,
      "gcc=/usr/bin/gcc",
      `gcc_version=gcc (Debian ${gccPackage.version}) ${gccPackage.version.split("-")[0]}`,
      "gcc_package=gcc-12: /usr/bin/x86_64-linux-gnu-gcc-12",
      "os=Debian GNU/Linux 12 (bookworm)",
      "host_only=absent",
      "compiled=42",
      "prefix writable",
    ]);
  });

  it("a local repository at a path the build root has, or under /cvmfs, is refused, naming the field", async () => {
    const ctx = context("repos-taken");
    const withUrl = (url: string) => {
      const bad = { ...ctx, layer: { ...ctx.layer } };
      bad.layer.spec = {
        ...ctx.layer.spec,
        gentoo: { ...ctx.layer.spec.gentoo!, repository: { url, branch: "master", commit } },
      };
      return stage(bad, "repos")
        .run(bad)
        .catch((e: unknown) => e) as Promise<InputError>;
    };
    const etc = await withUrl("file:///etc");
    expect(etc).toBeInstanceOf(InputError);
    expect(etc.message).toBe(
      "gentoo.repository.url: file:///etc is /etc, which the build root has too: the build could not see both",
    );
    const dotted = await withUrl("/srv/../usr/share");
    expect(dotted.message).toBe(
      "gentoo.repository.url: /srv/../usr/share is /usr/share, which the build root has too: the build could not see both",
    );
    const cvmfs = await withUrl(`file://${PREFIX}`);
    expect(cvmfs.message).toBe(
      `gentoo.repository.url: file://${PREFIX} is ${PREFIX}, where the sandbox shows its own`,
    );
    const remote = await withUrl("file://otherhost/srv/gentoo.git");
    expect(remote.message).toMatch(
      /^gentoo.repository.url: file:\/\/otherhost\/srv\/gentoo.git is not a file URL git can use/,
    );
    expect(existsSync(join(ctx.prefixDir, "var/db/repos/gentoo"))).toBe(false);
  });

  it("the build record names the build root: identity, suite, arch and name=version packages", async () => {
    const ctx = context("record");
    mkdirSync(join(ctx.prefixDir, "usr/bin"), { recursive: true });
    // Portage's qlist cannot run here: the record stage's package list comes from a stand-in
    writeFileSync(join(ctx.prefixDir, "usr/bin/qlist"), "#!/bin/sh\necho sys-libs/glibc-2.41-r5\n", {
      mode: 0o755,
    });
    await stage(ctx, "record").run(ctx);
    const stamps = readdirSync(join(ctx.prefixDir, "reprod"));
    const record = JSON.parse(readFileSync(join(ctx.prefixDir, "reprod", stamps[0]!, "build.json"), "utf8"));
    const named = parseRecordedBuildRoot(record.buildRoot)!;
    expect(named.identity).toBe(root.identity);
    expect(named).toMatchObject({ suite: "bookworm", arch: "x86_64" });
    expect(named.packages).toHaveLength(root.packages.length);
    const gcc = root.packages.find((p) => p.name === "gcc-12")!;
    expect(named.packages).toContain(`gcc-12=${gcc.version}`);
    // the host's compiler is not the build's: it is not in the record
    expect(Object.keys(record.toolVersions)).toEqual(["bwrap"]);
    // nothing of the cache: the record is the same wherever the build root is kept
    expect(JSON.stringify(record)).not.toContain(root.dir);
    expect(
      createHash("sha256")
        .update(readFileSync(join(ctx.prefixDir, "reprod", stamps[0]!, "packages.txt")))
        .digest("hex"),
    ).toBe(createHash("sha256").update("sys-libs/glibc-2.41-r5\n").digest("hex"));
  });
});

describe("compat build in a build root", () => {
  it("runs the stages in it up to the bootstrap, records it in the run, and resumes only in the same", () => {
    const dir = join(scratch, "cli");
    mkdirSync(dir);
    execFileSync("cp", [join(TESTDATA, "record-build-env.sh"), dir]);
    const spec = join(dir, "spec.yaml");
    writeFileSync(
      spec,
      `repository: software.example.org
stack: eessi
version: "2026.06"
arches: [x86_64]
flavor: gentoo
buildRoot: { suite: ${TEST_BUILD_ROOT.suite}, packages: [${TEST_BUILD_ROOT.packages.join(", ")}] }
gentoo:
  repository: { url: "file://${gitRepo}", branch: master, commit: ${commit} }
  bootstrap: { script: { path: record-build-env.sh }, requiredSpace: "1 MB" }
`,
    );
    const args = [
      "build",
      spec,
      "--arch",
      "x86_64",
      "--root",
      join(dir, "root"),
      "--runs-dir",
      join(dir, "runs"),
    ];
    const r = compat([...args, "--state-dir", TEST_STATE_DIR], { cwd: dir });
    // the fixture bootstraps nothing: the build stops there (a tool's failure, exit 4)
    expect(r.stderr).toContain("error: build failed in stage bootstrap:");
    expect(r.status).toBe(4);
    expect(r.stderr).toContain(`building in the build root ${root.identity.slice(0, 12)} (bookworm, x86_64`);
    const [run] = readdirSync(join(dir, "runs"));
    const work = join(dir, "root/versions/2026.06/compat/linux", `.build-${run}`);
    const env = readFileSync(join(work, "prefix/build-env.txt"), "utf8");
    expect(env).toContain("gcc_package=gcc-12: /usr/bin/x86_64-linux-gnu-gcc-12\n");
    expect(env).toContain("host_only=absent\n");
    const recorded = parseRecordedBuildRoot(
      JSON.parse(readFileSync(join(dir, "runs", run!, "build-root.json"), "utf8")),
    );
    expect(recorded?.identity).toBe(root.identity);
    const resumed = compat([...args, "--no-build-root", "--resume", run!], { cwd: dir });
    expect(resumed.status).toBe(2);
    expect(resumed.stderr).toContain(
      `cannot resume run ${run}: it started in the build root ${root.identity.slice(0, 12)} (bookworm), this build would run in the host's userland (no build root)`,
    );
    expect(resumed.stderr).toContain("resume without --no-build-root");
  });
});

describe("the debian flavor's checks in a build root", () => {
  it("run inside it and pass", async () => {
    const dev = await devLayer();
    const runDir = join(scratch, "debian-checks");
    mkdirSync(runDir);
    const report = await runCheckStage({
      layer: dev.layer,
      prefixDir: dev.localPrefix,
      mount: { root: dev.root, repository: dev.layer.repository },
      buildRoot: root.dir,
      runDir,
    });
    expect(report.summary.ok).toBe(true);
    expect(report.summary.failed).toBe(0);
    const inRoot = report.results.filter((r) =>
      (r.evidence.ran ?? []).some((ran) => ran.includes(`/ from the build root ${root.dir}`)),
    );
    expect(inRoot.map((r) => r.id)).toContain("startprefix");
  }, 300_000);
});
