/**
 * set-defined and set-installed on a bare EESSI Gentoo Prefix checked without a spec: the set is
 * named by EESSI's convention `eessi-<version>-<os>-<arch>` from the prefix path, on the versions
 * EESSI builds from it, and the evidence says so.
 */
import { renameSync, rmSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { eessiLayout } from "../../../test/helpers/prefix-layout.js";
import { createContext } from "../context.js";
import { targetFromPrefix } from "../prefix-target.js";
import { runChecks } from "../runner.js";
import { eessiSetOf, SETS_NOT_KNOWN } from "../target.js";
import { setDefined } from "./set-defined.js";
import { setInstalled } from "./set-installed.js";

let cleanup = () => {};
afterEach(() => cleanup());

async function check(version: string, broken?: (eprefix: string) => void) {
  const l = eessiLayout("gentoo-2023.06", version, () => ({ SEARCH_PATH: "" }));
  cleanup = l.cleanup;
  broken?.(l.eprefix);
  const target = await targetFromPrefix(l.eprefix);
  const report = await runChecks(createContext(target), { checks: [setDefined, setInstalled] });
  return { target, defined: report.results[0]!, installed: report.results[1]! };
}

describe("the EESSI set of a bare prefix", () => {
  it("is named from the prefix path on 2023.06 and 2025.06 only", () => {
    const p = (v: string, os = "linux", arch = "x86_64") =>
      `/cvmfs/software.eessi.io/versions/${v}/compat/${os}/${arch}`;
    expect(eessiSetOf(p("2023.06"))?.set).toBe("eessi-2023.06-linux-x86_64");
    expect(eessiSetOf(p("2025.06", "linux", "aarch64"))?.set).toBe("eessi-2025.06-linux-aarch64");
    expect(eessiSetOf(p("2026.06"))).toBeUndefined(); // built from prefix_packages, no set
    expect(eessiSetOf("/opt/prefix")).toBeUndefined();
    expect(eessiSetOf(`${p("2023.06")}/usr`)).toBeUndefined();
  });

  it.runIf(process.arch === "x64")(
    "is checked without a spec, and the evidence says where its name came from",
    async () => {
      const { target, defined, installed } = await check("2023.06");
      expect(target.sets).toEqual(["eessi-2023.06-linux-x86_64"]);
      expect(installed.status).toBe("pass");
      expect(installed.evidence.found).toBe("2 atoms, all installed");
      expect(installed.evidence.expected).toContain("@eessi-2023.06-linux-x86_64 installed (no spec given");
      expect(installed.evidence.expected).toContain("EESSI's convention eessi-<version>-<os>-<arch>");
      expect(defined.status).toBe("skip");
      expect(defined.evidence.found).toBe("emerge is not in the layer (the emerge check reports it)");
      expect(defined.evidence.expected).toContain("EESSI's convention");
    },
  );

  it("fails naming the set file when an atom of it is not installed", async () => {
    const { installed } = await check("2023.06", (e) =>
      rmSync(join(e, "var/db/pkg/sys-libs/pam-1.5.3"), { recursive: true }),
    );
    expect(installed.status).toBe("fail");
    expect(installed.evidence.files).toEqual([
      expect.stringMatching(/etc\/portage\/sets\/eessi-2023\.06-linux-x86_64$/),
    ]);
    expect(installed.evidence.details![0]).toMatch(
      /^sys-libs\/pam \(.*eessi-2023\.06-linux-x86_64:2\): not installed$/,
    );
  });

  it("does not read a vardb that var/db/pkg links to outside the prefix (another system's packages)", async () => {
    const { installed } = await check("2023.06", (e) => {
      const elsewhere = `${e}-elsewhere`;
      renameSync(join(e, "var/db/pkg"), elsewhere);
      symlinkSync(elsewhere, join(e, "var/db/pkg"));
    });
    expect(installed.status).toBe("fail");
    expect(installed.evidence.found).toMatch(
      /the vardb: "var\/db\/pkg" leads through the symlink var\/db\/pkg -> /,
    );
  });

  it("is not guessed on 2026.06, which EESSI builds without a set", async () => {
    const { target, installed } = await check("2026.06");
    expect(target.sets).toEqual([]);
    expect(installed).toMatchObject({ status: "skip", evidence: { found: SETS_NOT_KNOWN } });
  });
});
