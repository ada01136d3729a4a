/**
 * The glibc-trusted-dirs check itself, run through startprefix on the hand-made Gentoo Prefix of
 * EESSI 2023.06 (testdata/prefixes/gentoo-2023.06): its `ld.so` prints glibc 2.37's `--help` with a
 * system search path each test chooses, since a Gentoo glibc cannot run here.
 */
import { afterEach, describe, expect, it } from "vitest";
import { eessiLayout } from "../../../test/helpers/prefix-layout.js";
import { createContext } from "../context.js";
import { targetFromPrefix } from "../prefix-target.js";
import { runChecks } from "../runner.js";
import type { LayerTarget } from "../target.js";
import { glibcTrustedDirs } from "./glibc-trusted-dirs.js";

let cleanup = () => {};
afterEach(() => cleanup());

/** EESSI 2023.06's one trusted dir (vars/2023.06.yml: a plain string since f6e57eb). */
const HOST_INJECTIONS = "/cvmfs/software.eessi.io/host_injections/2023.06/compat/linux/x86_64/lib";
const canRun = process.arch === "x64";

/** The layout at `<tmp>/versions/2023.06/compat/linux/x86_64`, its loader's search path ending in `trusted`. */
async function layer(trusted: (eprefix: string) => string[]): Promise<LayerTarget> {
  const l = eessiLayout("gentoo-2023.06", "2023.06", (eprefix) => ({
    SEARCH_PATH: [`${eprefix}/lib64`, `${eprefix}/usr/lib64`, ...trusted(eprefix)]
      .map((d) => `  ${d} (system search path)`)
      .join("\n"),
  }));
  cleanup = l.cleanup;
  return targetFromPrefix(l.eprefix);
}

async function verdict(target: LayerTarget) {
  const report = await runChecks(createContext(target), { checks: [glibcTrustedDirs] });
  return report.results[0]!;
}

describe.runIf(canRun)("glibc-trusted-dirs on a Gentoo Prefix", () => {
  it("passes with 2023.06's one trusted dir (the reference iterated it by character), read from the env file", async () => {
    const target = await layer(() => [HOST_INJECTIONS]);
    expect(target.version).toBe("2023.06");
    const r = await verdict(target);
    expect(r.status).toBe("pass");
    expect(r.evidence.ran![0]).toContain('startprefix <<< "ld.so --help"');
    expect(r.evidence.expected).toContain(`${HOST_INJECTIONS} consecutively, in this order`);
    expect(r.evidence.expected).toContain("etc/portage/env/glibc-user-defined-trusted-dirs.conf");
    expect(r.evidence.found).toBe(
      `system search path: ${target.prefix}/lib64, ${target.prefix}/usr/lib64, ${HOST_INJECTIONS}`,
    );
  });

  it("fails on three dirs in the wrong order, naming what was expected and found", async () => {
    const target = await layer((p) => [`${p}/lib/override`, `${p}/lib/amd`, `${p}/lib/nvidia`]);
    const p = target.prefix;
    const want = [`${p}/lib/override`, `${p}/lib/nvidia`, `${p}/lib/amd`];
    const r = await verdict({ ...target, trustedDirs: want });
    expect(r.status).toBe("fail");
    expect(r.evidence.expected).toContain(`${want.join(", ")} consecutively, in this order (from the spec)`);
    expect(r.evidence.found).toBe(
      `${p}/lib/nvidia is in the system search path but not right after ${p}/lib/override`,
    );
    expect(r.evidence.details).toEqual([
      `system search path: ${p}/lib64, ${p}/usr/lib64, ${p}/lib/override, ${p}/lib/amd, ${p}/lib/nvidia`,
    ]);
    expect(r.evidence.files).toEqual([`${p}/usr/bin/ld.so`]);
  });

  it("fails when the loader does not search the trusted dir", async () => {
    const target = await layer(() => []);
    const r = await verdict(target);
    expect(r.status).toBe("fail");
    expect(r.evidence.found).toBe(`${HOST_INJECTIONS} is not in the system search path`);
    expect(r.evidence.details).toEqual([
      `system search path: ${target.prefix}/lib64, ${target.prefix}/usr/lib64`,
    ]);
  });
});
