/**
 * The build root as a layer's build record names it (build.json `buildRoot`): its identity, suite,
 * arch and installed packages as `name=version` lines. Only what makes the build root what it is:
 * where it is cached, when it was made and from which mirror are the build host's, not the layer's.
 *
 *   recordedBuildRoot(root)                  // for build.json
 *   parseRecordedBuildRoot(record.buildRoot) // from a build record someone else wrote (or undefined)
 */
import { z } from "zod";
import { isArch } from "../layer/id.js";
import type { BuildRoot } from "./types.js";

export interface RecordedBuildRoot {
  /** sha256 of the package list with versions, arch and suite (identity.ts). */
  identity: string;
  suite: string;
  arch: string;
  /** `name=version`, or `name:arch=version` for a package of another Debian arch than the root's main one, sorted. */
  packages: string[];
}

export function recordedBuildRoot(root: BuildRoot): RecordedBuildRoot {
  const names = new Map<string, number>();
  for (const p of root.packages) names.set(p.name, (names.get(p.name) ?? 0) + 1);
  return {
    identity: root.identity,
    suite: root.suite,
    arch: root.arch,
    packages: root.packages
      .map((p) =>
        (names.get(p.name) ?? 0) > 1 ? `${p.name}:${p.arch}=${p.version}` : `${p.name}=${p.version}`,
      )
      .sort(),
  };
}

// A record from a build host or a pull request: every field is held to what Debian allows (a suite
// name, one of compat's arches, Debian's version charset), so nothing in it can carry a terminal
// escape or a forged line to whoever reads `compat diff`.
const recordedSchema = z.object({
  identity: z.string().regex(/^[0-9a-f]{64}$/),
  suite: z.string().regex(/^[a-z][a-z0-9-]{0,63}$/),
  arch: z.string().refine(isArch),
  packages: z
    .array(
      z
        .string()
        .max(300)
        .regex(/^[a-z0-9][a-z0-9+.-]*(?::[a-z0-9-]+)?=[A-Za-z0-9.+~:-]+$/),
    )
    .max(100_000),
});

/** A build record's `buildRoot`, when it is one (a record from elsewhere is checked, never trusted). */
export function parseRecordedBuildRoot(value: unknown): RecordedBuildRoot | undefined {
  const r = recordedSchema.safeParse(value);
  return r.success ? r.data : undefined;
}

/** `name=version` lines as name → version (the arch qualifier, when there is one, stays in the name). */
export function packageVersions(b: RecordedBuildRoot): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of b.packages) {
    const at = line.indexOf("=");
    out.set(line.slice(0, at), line.slice(at + 1));
  }
  return out;
}
