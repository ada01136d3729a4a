/**
 * The gentoo flavor cannot complete here (no Gentoo mirrors), so these tests run everything around
 * the bootstrap for real: the pinned checkout against a local git repository, the Portage files,
 * the disk check, the script's sha256 check, and the bootstrap's command lines in the sandbox.
 */

import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { git, standInGentooRepo } from "../../../test/helpers/gentoo-git.js";
import { SHARED_DATA } from "../../../test/helpers/shared-data.js";
import { stageContext, type TestStageContext } from "../../../test/helpers/stage-context.js";
import { type CompatError, InputError, ValidationError } from "../../errors.js";
import { parseSize } from "../common.js";
import type { StageContext } from "../types.js";
import { fetchBootstrapScript } from "./bootstrap-script.js";
import {
  api,
  asBuildUser,
  BUILD_UID,
  bootstrapCommand,
  gentooInstalled,
  isPortageConfigFile,
} from "./index.js";

const testdata = join(import.meta.dirname, "testdata");
const FIXTURE_SHA = createHash("sha256")
  .update(readFileSync(join(testdata, "record-invocation.sh")))
  .digest("hex");
let scratch: string;
let gitRepo: string;
let commits: string[];

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), "compat-gentoo-"));
  chmodSync(scratch, 0o755);
  // a stand-in for gentoo.git: two commits, fetchable by id as GitHub allows
  gitRepo = join(scratch, "gentoo.git");
  commits = standInGentooRepo(gitRepo, 2);
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function specText(extra: { commit: string; script?: string; sha256?: string; space?: string }) {
  return `
repository: software.example.org
stack: eessi
version: "2026.06"
arches: [x86_64]
flavor: gentoo
gentoo:
  repository: { url: "file://${gitRepo}", branch: master, commit: ${extra.commit} }
  packageMask: ">=sys-devel/gcc-15"
  makeConf: { 0001_use_rpath.conf: 'LDFLAGS="\${LDFLAGS} -Wl,-rpath,\${EPREFIX}/usr/lib64"' }
  trustedDirs: ["{prefix}/lib/nvidia"]
  overlays: [{ name: eessi, url: "https://github.com/EESSI/gentoo-overlay.git", commit: ea41ecc, eclassOverrides: true }]
  bootstrap:
    script: { path: "${extra.script ?? "record-invocation.sh"}"${extra.sha256 ? `, sha256: "${extra.sha256}"` : ""} }
    requiredSpace: "${extra.space ?? "1 MB"}"
`;
}

function context(name: string, text: string): TestStageContext {
  // the bootstrap script's path is relative to the spec's directory
  return stageContext({ scratch, name, specText: text, specFile: join(testdata, "gentoo.yaml") });
}

const stageOf = (ctx: StageContext, id: string) => {
  const s = api.plan(ctx.layer).find((x) => x.id === id);
  if (!s) throw new Error(`no stage ${id}`);
  return s;
};

describe("gentoo flavor", () => {
  it("parses sizes as Ansible's human_to_bytes does (powers of 1024)", () => {
    expect(parseSize("15 GB")).toBe(15 * 2 ** 30);
    expect(parseSize("512M")).toBe(512 * 2 ** 20);
    expect(parseSize("1.5 TiB")).toBe(1.5 * 2 ** 40);
    expect(parseSize("100")).toBe(100);
    expect(() => parseSize("lots")).toThrow(InputError);
  });

  it("repos: writes gentoo.conf and checks the tree out at the pinned commit, with .unpacked", async () => {
    const ctx = context("repos", specText({ commit: commits[0]! }));
    await stageOf(ctx, "repos").run(ctx);
    const tree = join(ctx.prefixDir, "var/db/repos/gentoo");
    expect(git(tree, "rev-parse", "HEAD")).toBe(commits[0]);
    expect(readFileSync(join(tree, "profiles-version"), "utf8")).toBe("1\n");
    expect(git(tree, "rev-list", "--count", "HEAD")).toBe("1"); // shallow, as EESSI clones
    expect(existsSync(join(tree, ".unpacked"))).toBe(true);
    const conf = readFileSync(join(ctx.prefixDir, "etc/portage/repos.conf/gentoo.conf"), "utf8");
    expect(conf).toContain(`location  = ${ctx.layer.prefix}/var/db/repos/gentoo`);
    expect(conf).toContain("auto-sync = no");

    // again: nothing to do; with another pin: moved there
    await stageOf(ctx, "repos").run(ctx);
    expect(ctx.notes.some((n) => n.includes("already at"))).toBe(true);
    const moved = context("repos", specText({ commit: commits[1]! }));
    await stageOf(moved, "repos").run(moved);
    expect(git(tree, "rev-parse", "HEAD")).toBe(commits[1]);
  });

  it("SOURCE_DATE_EPOCH: the pinned commit's committer date, read without running what the layer's .git/config names", async () => {
    const ctx = context("sde", specText({ commit: commits[0]! }));
    await stageOf(ctx, "repos").run(ctx);
    const tree = join(ctx.prefixDir, "var/db/repos/gentoo");
    const committed = Number(git(tree, "log", "-1", "--format=%ct", commits[0]!));
    expect(await api.sourceDateEpoch(ctx)).toMatchObject({ epoch: committed });

    // what an earlier sandboxed build could leave: a signed commit as the pin, and a config that
    // makes porcelain git (show/log) run a program of the layer's to verify it, on the host
    const marker = join(scratch, "sde-ran");
    const evil = join(scratch, "sde-evil.sh");
    writeFileSync(evil, `#!/bin/sh\ntouch ${marker}\nexit 1\n`, { mode: 0o755 });
    const raw = git(tree, "cat-file", "commit", commits[0]!);
    const [header, ...message] = raw.split("\n\n");
    const signature = [
      "-----BEGIN PGP SIGNATURE-----",
      "",
      "iQEzBAABCAAdFiEE",
      "-----END PGP SIGNATURE-----",
    ];
    const signed = `${header}\ngpgsig ${signature.join("\n ")}\n\n${message.join("\n\n")}\n`;
    const signedSha = execFileSync("git", ["hash-object", "-t", "commit", "-w", "--stdin"], {
      cwd: tree,
      input: signed,
      encoding: "utf8",
    }).trim();
    git(tree, "config", "log.showSignature", "true");
    git(tree, "config", "gpg.program", evil);
    git(tree, "config", "core.fsmonitor", evil);
    git(tree, "config", "core.pager", evil);
    const pinned = context("sde", specText({ commit: signedSha }));
    expect(await api.sourceDateEpoch(pinned)).toMatchObject({ epoch: committed });
    expect(existsSync(marker)).toBe(false);

    // a .git that is a symlink (or a gitdir: file) is not followed: the build's start, said so
    rmSync(join(tree, ".git"), { recursive: true });
    symlinkSync(join(gitRepo, ".git"), join(tree, ".git"));
    const linked = await api.sourceDateEpoch(context("sde", specText({ commit: commits[0]! })));
    expect(linked.from).toMatch(/is not checked out/);
  });

  it("repos: a commit the repository does not have fails with git's message", async () => {
    const ctx = context("repos-bad", specText({ commit: "f".repeat(40) }));
    const err = (await stageOf(ctx, "repos")
      .run(ctx)
      .catch((e: unknown) => e)) as CompatError;
    expect(err.exitCode).toBe(4);
    expect(err.message).toMatch(/git failed/);
  });

  it("configure: writes the Portage files before the bootstrap, repos.conf of overlays later", async () => {
    const ctx = context("configure", specText({ commit: commits[0]! }));
    await stageOf(ctx, "configure").run(ctx);
    const portage = join(ctx.prefixDir, "etc/portage");
    expect(readFileSync(join(portage, "package.mask"), "utf8")).toBe(">=sys-devel/gcc-15\n");
    expect(readFileSync(join(portage, "make.conf/0001_use_rpath.conf"), "utf8")).toContain("-Wl,-rpath");
    expect(readFileSync(join(portage, "env/glibc-user-defined-trusted-dirs.conf"), "utf8")).toBe(
      `EXTRA_EMAKE="user-defined-trusted-dirs=${ctx.layer.prefix}/lib/nvidia"\n`,
    );
    expect(existsSync(join(portage, "profile"))).toBe(true);
    expect(existsSync(join(portage, "repos.conf/eessi.conf"))).toBe(false);
    expect(isPortageConfigFile("etc/portage/repos.conf/eessi.conf")).toBe(false);
    expect(isPortageConfigFile("etc/locale.gen")).toBe(false);
  });

  it("preflight: refuses a prefix without the required free space", async () => {
    const ctx = context("space", specText({ commit: commits[0]!, space: "100000 TB" }));
    const err = (await stageOf(ctx, "preflight")
      .run(ctx)
      .catch((e: unknown) => e)) as CompatError;
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toMatch(/not enough free space .* the spec requires 100000 TB/);
  });

  it("bootstrap: refuses a script whose sha256 is not the spec's, before running anything", async () => {
    const ctx = context("sha", specText({ commit: commits[0]!, sha256: "0".repeat(64) }));
    const err = (await stageOf(ctx, "bootstrap")
      .run(ctx)
      .catch((e: unknown) => e)) as CompatError;
    expect(err).toBeInstanceOf(ValidationError);
    expect(err.message).toBe(
      `bootstrap-prefix.sh from ${join(testdata, "record-invocation.sh")} has sha256 ${FIXTURE_SHA}, the spec requires ${"0".repeat(64)}`,
    );
    expect(existsSync(join(ctx.prefixDir, "invocations.txt"))).toBe(false);
    await expect(fetchBootstrapScript({ path: "not-a-script.sh" }, testdata)).rejects.toThrow(
      /is not a script/,
    );
    const downloaded = await fetchBootstrapScript(
      { url: "https://example.org/bootstrap-prefix.sh", sha256: FIXTURE_SHA },
      testdata,
      async () => readFileSync(join(testdata, "record-invocation.sh")),
    );
    expect(downloaded.origin).toBe("https://example.org/bootstrap-prefix.sh");
  });

  it("bootstrap: runs the script twice at the real prefix as a non-root user, first up to stage3", async () => {
    const ctx = context("bootstrap", specText({ commit: commits[0]!, sha256: FIXTURE_SHA }));
    const err = (await stageOf(ctx, "bootstrap")
      .run(ctx)
      .catch((e: unknown) => e)) as CompatError;
    // the fixture bootstraps nothing, so the stage must notice that startprefix is missing
    expect(err.message).toBe(`bootstrap-prefix.sh finished but ${ctx.layer.prefix}/startprefix is missing`);
    const runs = readFileSync(join(ctx.prefixDir, "invocations.txt"), "utf8").trim().split("\n");
    const isRoot = process.getuid?.() === 0;
    const user = isRoot ? `uid=${BUILD_UID} user=portage` : `uid=${process.getuid?.()}`;
    expect(runs[0]).toBe(`args=${ctx.layer.prefix} noninteractive`);
    expect(runs[1]).toBe("stop=stage3");
    expect(runs[2]).toContain(user);
    expect(runs).toContain(`eprefix_env=${ctx.layer.prefix}`);
    expect(runs).toContain("ld_library_path=unset");
    expect(runs.filter((l) => l === "prefix writable")).toHaveLength(2);
    expect(runs[7]).toBe("stop=");
    // the script used is kept for the build record, with its sha256
    expect(readFileSync(join(ctx.workDir, "bootstrap-prefix.sh.sha256"), "utf8")).toBe(
      `${FIXTURE_SHA}  bootstrap-prefix.sh\n`,
    );
    expect(bootstrapCommand("/s.sh", "/cvmfs/x")).toEqual([
      "/bin/bash",
      "/s.sh",
      "/cvmfs/x",
      "noninteractive",
    ]);
  });

  it.runIf(process.getuid?.() === 0)(
    "runs Portage steps as the build user with a passwd that names it",
    async () => {
      const ctx = context("user", specText({ commit: commits[0]! }));
      const r = await ctx.inLayer(
        ["sh", "-c", "id -un; id -u; echo $EPREFIX; echo $PATH"],
        await asBuildUser(ctx),
      );
      const [name, uid, eprefix, path] = r.stdout.trim().split("\n");
      expect(name).toBe("portage");
      expect(uid).toBe(String(BUILD_UID));
      expect(eprefix).toBe(ctx.layer.prefix);
      expect(path!.startsWith(`${ctx.layer.prefix}/usr/sbin:${ctx.layer.prefix}/usr/bin:`)).toBe(true);
    },
  );

  describe("overlays", () => {
    let overlayRepo: string;
    let overlayCommit: string;
    const SET = "eessi-2025.06-linux-x86_64";
    beforeAll(() => {
      // a stand-in for EESSI's gentoo-overlay carrying its real set file for 2025.06 x86_64
      overlayRepo = join(scratch, "gentoo-overlay.git");
      mkdirSync(join(overlayRepo, "etc/portage/sets"), { recursive: true });
      mkdirSync(join(overlayRepo, "profiles"));
      git(overlayRepo, "init", "-q", "-b", "main");
      git(overlayRepo, "config", "uploadpack.allowAnySHA1InWant", "true");
      writeFileSync(join(overlayRepo, "profiles/repo_name"), "eessi\n");
      copyFileSync(
        join(SHARED_DATA, "eessi/gentoo-overlay-sets", SET),
        join(overlayRepo, "etc/portage/sets", SET),
      );
      // an accept_keywords line as EESSI's overlay has it (etc/portage/package.accept_keywords)
      writeFileSync(join(overlayRepo, "etc/portage/package.accept_keywords"), "sys-cluster/lmod ~amd64\n");
      git(overlayRepo, "add", ".");
      git(overlayRepo, "commit", "-qm", "sets");
      overlayCommit = git(overlayRepo, "rev-parse", "HEAD");
    });

    const overlaySpec = (sets: string, portageConfig = "[]") => `
repository: software.eessi.io
stack: eessi
version: "2025.06"
arches: [x86_64]
flavor: gentoo
gentoo:
  repository: { url: "file://${gitRepo}", commit: ${commits[0]} }
  overlays: [{ name: eessi, url: "file://${overlayRepo}", branch: main, commit: ${overlayCommit}, eclassOverrides: true, portageConfig: ${portageConfig} }]
  sets: [${sets}]
`;

    /** A prefix whose emerge is the recording fixture (Portage cannot run here). */
    function withEmergeFixture(ctx: StageContext) {
      mkdirSync(join(ctx.prefixDir, "usr/bin"), { recursive: true });
      copyFileSync(join(testdata, "record-emerge.sh"), join(ctx.prefixDir, "usr/bin/emerge"));
      chmodSync(join(ctx.prefixDir, "usr/bin/emerge"), 0o755);
    }

    it("checks the overlay out at its commit and links its set file into etc/portage/sets", async () => {
      const ctx = context("overlays", overlaySpec('"eessi-{version}-{os}-{arch}"'));
      withEmergeFixture(ctx);
      await stageOf(ctx, "overlays").run(ctx);
      const p = ctx.prefixDir;
      expect(readFileSync(join(p, "emerge-calls.txt"), "utf8")).toMatch(
        /^emerge --noreplace --verbose app-portage\/gentoolkit dev-vcs\/git \(uid=/,
      );
      expect(git(join(p, "var/db/repos/eessi"), "rev-parse", "HEAD")).toBe(overlayCommit);
      expect(readFileSync(join(p, "etc/portage/repos.conf/eessi.conf"), "utf8")).toContain(
        `location = ${ctx.layer.prefix}/var/db/repos/eessi`,
      );
      expect(readFileSync(join(p, "etc/portage/repos.conf/eclass-overrides.conf"), "utf8")).toBe(
        "[DEFAULT]\neclass-overrides = eessi\n",
      );
      const link = join(p, "etc/portage/sets", SET);
      expect(readlinkSync(link)).toBe(`../../../var/db/repos/eessi/etc/portage/sets/${SET}`);
      expect(readFileSync(link, "utf8")).toBe(
        readFileSync(join(SHARED_DATA, "eessi/gentoo-overlay-sets", SET), "utf8"),
      );
      expect(ctx.notes).toContain(
        `@${SET}: linked etc/portage/sets/${SET} -> var/db/repos/eessi/etc/portage/sets/${SET}`,
      );
      // Portage, at the real prefix in the sandbox, reads the set through the link
      const r = await ctx.inLayer(["cat", `${ctx.layer.prefix}/etc/portage/sets/${SET}`]);
      expect(r.stdout).toContain("=sys-auth/sssd-2.11.0::eessi\n");
      // again (a resumed stage): same result
      await stageOf(ctx, "overlays").run(ctx);
      expect(readlinkSync(link)).toBe(`../../../var/db/repos/eessi/etc/portage/sets/${SET}`);
    });

    it("links the overlay's etc/portage entries the spec names into etc/portage/, readable at the real prefix", async () => {
      const ctx = context("overlays-config", overlaySpec("", "[package.accept_keywords]"));
      withEmergeFixture(ctx);
      await stageOf(ctx, "overlays").run(ctx);
      const link = join(ctx.prefixDir, "etc/portage/package.accept_keywords");
      expect(readlinkSync(link)).toBe("../../var/db/repos/eessi/etc/portage/package.accept_keywords");
      expect(ctx.notes).toContain(
        "linked etc/portage/package.accept_keywords -> var/db/repos/eessi/etc/portage/package.accept_keywords",
      );
      const r = await ctx.inLayer(["cat", `${ctx.layer.prefix}/etc/portage/package.accept_keywords`]);
      expect(r.stdout).toBe("sys-cluster/lmod ~amd64\n");
      await stageOf(ctx, "overlays").run(ctx);
      expect(readlinkSync(link)).toBe("../../var/db/repos/eessi/etc/portage/package.accept_keywords");
    });

    it("fails naming an entry the overlay does not have, linking nothing", async () => {
      const ctx = context("overlays-noconfig", overlaySpec("", "[package.accept_keywords, profile]"));
      withEmergeFixture(ctx);
      const err = (await stageOf(ctx, "overlays")
        .run(ctx)
        .catch((e: unknown) => e)) as CompatError;
      expect(err).toBeInstanceOf(InputError);
      expect(err.message).toBe("overlay Portage configuration not found: profile");
      expect(existsSync(join(ctx.prefixDir, "etc/portage/package.accept_keywords"))).toBe(false);
    });

    it("fails naming a set the overlay does not have, and where it looked", async () => {
      const ctx = context("overlays-noset", overlaySpec('"eessi-2026.06-{os}-{arch}"'));
      withEmergeFixture(ctx);
      const err = (await stageOf(ctx, "overlays")
        .run(ctx)
        .catch((e: unknown) => e)) as CompatError;
      expect(err).toBeInstanceOf(InputError);
      expect(err.message).toBe("package set @eessi-2026.06-linux-x86_64 not found");
      expect(err.details[0]).toContain(
        `${ctx.layer.prefix}/var/db/repos/eessi/etc/portage/sets/eessi-2026.06-linux-x86_64`,
      );
      expect(existsSync(join(ctx.prefixDir, "etc/portage/sets"))).toBe(false);
    });
  });

  it("reads installed packages from the vardb", async () => {
    const ctx = context("vardb", specText({ commit: commits[0]! }));
    for (const [cat, pf, slot] of [
      ["sys-libs", "glibc-2.41-r5", "2.2"],
      ["dev-lang", "python-3.13.5", "3.13"],
      ["app-shells", "bash-5.2_p37", "0"],
    ] as const) {
      mkdirSync(join(ctx.prefixDir, "var/db/pkg", cat, pf), { recursive: true });
      writeFileSync(join(ctx.prefixDir, "var/db/pkg", cat, pf, "SLOT"), `${slot}\n`);
    }
    mkdirSync(join(ctx.prefixDir, "var/db/pkg/sys-libs/not-a-cpv"));
    expect(await gentooInstalled(ctx.prefixDir)).toEqual([
      { name: "app-shells/bash", version: "5.2_p37", slot: "0" },
      { name: "dev-lang/python", version: "3.13.5", slot: "3.13" },
      { name: "sys-libs/glibc", version: "2.41-r5", slot: "2.2" },
    ]);
  });
});
