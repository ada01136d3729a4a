/**
 * `compat check` on a hand-made Gentoo Prefix layout in a local repository root: the checks that
 * read Portage's files (repos.conf and the git checkout, sets and the vardb, the trusted-dirs env
 * file, package.env, the build record) give their verdicts, and those that need emerge skip with
 * the reason when the layer has none. Its startprefix prints Gentoo's "Leaving Gentoo Prefix" line.
 */
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  renderTrustedDirsEnv,
  TRUSTED_DIRS_PACKAGE_ENV_LINE,
} from "../../src/gentoo/config/portage-files.js";
import { renderGentooReposConf } from "../../src/gentoo/config/repos-conf.js";
import { tempDir, writeLayout } from "../helpers/prefix-layout.js";

const CLI = join(import.meta.dirname, "../../dist/cli/bin.js");
const REPO = "software.eessi.io";
const REL = "versions/2025.06/compat/linux/x86_64";
const P = `/cvmfs/${REPO}/${REL}`;
const COMMIT = "083e38cef302128d595e9f9cfd029ad8f67ec2b7";
const TRUSTED = ["override", "nvidia", "amd"].map((d) => `${P}/lib/${d}`);
const canRun = process.getuid?.() === 0 && process.arch === "x64";

let cleanup = () => {};
afterEach(() => cleanup());

const entry = (cpv: string, repo = "gentoo") => ({
  [`${REL}/var/db/pkg/${cpv}/SLOT`]: "0\n",
  [`${REL}/var/db/pkg/${cpv}/repository`]: `${repo}\n`,
});

function gentooRoot(): { root: string; spec: string } {
  const t = tempDir("compat-gentoo-");
  cleanup = t.cleanup;
  const root = join(t.dir, REPO);
  writeLayout(root, {
    // A startprefix as Gentoo's ends: it runs the shell and reports the status.
    [`${REL}/startprefix`]: {
      file: `#!/bin/bash\nEPREFIX="${P}"\n/bin/bash\nst=$?\necho "Leaving Gentoo Prefix with exit status $st"\nexit $st\n`,
      mode: 0o755,
    },
    [`${REL}/etc/portage/repos.conf/gentoo.conf`]: renderGentooReposConf(
      P,
      "https://github.com/gentoo/gentoo.git",
    ),
    [`${REL}/var/db/repos/gentoo/.git/HEAD`]: `${COMMIT}\n`,
    [`${REL}/etc/portage/sets/eessi-2025.06-linux-x86_64`]: "=sys-apps/archspec-0.2.5::eessi\nsys-libs/pam\n",
    ...entry("sys-apps/archspec-0.2.5", "eessi"),
    ...entry("sys-libs/pam-1.7.0_p20241230"),
    ...entry("sys-libs/glibc-2.41-r4"),
    [`${REL}/var/db/pkg/sys-libs/glibc-2.41-r4/EXTRA_EMAKE`]: `user-defined-trusted-dirs=${TRUSTED.join(":")}\n`,
    [`${REL}/etc/portage/env/glibc-user-defined-trusted-dirs.conf`]: renderTrustedDirsEnv(TRUSTED),
    [`${REL}/etc/portage/package.env`]: `${TRUSTED_DIRS_PACKAGE_ENV_LINE}\n`,
    [`${REL}/reprod/20250701_120000UTC/build.json`]: "{}\n",
    [`${REL}/reprod/20250701_120000UTC/packages.txt`]:
      "sys-apps/archspec-0.2.5::eessi\nsys-libs/glibc-2.41-r4::gentoo\nsys-libs/pam-1.7.0_p20241230::gentoo\n",
  });
  const spec = join(t.dir, "eessi.yaml");
  writeFileSync(
    spec,
    [
      `repository: ${REPO}`,
      "stack: eessi",
      'version: "2025.06"',
      "arches: [x86_64]",
      "flavor: gentoo",
      "gentoo:",
      `  repository: { commit: "${COMMIT}" }`,
      '  sets: ["eessi-{version}-{os}-{arch}"]',
      '  trustedDirs: ["{prefix}/lib/override", "{prefix}/lib/nvidia", "{prefix}/lib/amd"]',
      "",
    ].join("\n"),
  );
  return { root, spec };
}

describe.runIf(canRun)("compat check on a hand-made Gentoo Prefix", () => {
  it("judges the Portage files, and skips what needs emerge with the reason", () => {
    const { root, spec } = gentooRoot();
    const r = spawnSync("node", [CLI, "check", spec, "--arch", "x86_64", "--root", root, "--json"], {
      encoding: "utf8",
    });
    const report = JSON.parse(r.stdout) as {
      results: { id: string; status: string; evidence: { found: string } }[];
    };
    const by = Object.fromEntries(report.results.map((x) => [x.id, x]));
    for (const id of [
      "startprefix",
      "echo",
      "gentoo-repo-git",
      "set-installed",
      "glibc-env-file",
      "reprod-record",
    ])
      expect(by[id]!.status, `${id}: ${by[id]!.evidence.found}`).toBe("pass");
    expect(by["set-defined"]).toMatchObject({
      status: "skip",
      evidence: { found: "emerge is not in the layer (the emerge check reports it)" },
    });
    // No Portage here: these fail, naming what is missing.
    expect(by.emerge!.status).toBe("fail");
    expect(by.tools!.evidence.found).toContain("missing or from the host");
    expect(r.status).toBe(3);
  });
});
