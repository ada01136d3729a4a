/**
 * A prefix directory as a check target: its flavor (the flavor registry's detectFlavor), the prefix
 * its files were made for, its arch and EESSI's conventions for what a bare prefix should hold.
 * Apart from checks/target.ts, which works from a resolved spec alone.
 */
import { realpathSync } from "node:fs";
import { posix } from "node:path";
import { InputError } from "../errors.js";
import type { LayerMount } from "../exec/sandbox.js";
import { detectFlavor, flavorHas } from "../flavors/index.js";
import { ARCHES, type Arch, archHint, isArch } from "../layer/id.js";
import { absolutePathProblem } from "../paths/rules.js";
import { eessiHostLinks } from "./eessi-host-links.js";
import { LayerFs } from "./layer-fs.js";
import { loaderRel } from "./loader.js";
import { DEFAULT_SETTINGS, declaredPrefix, eessiSetOf, isDirectory, type LayerTarget } from "./target.js";

/**
 * A prefix directory. When its files were made for another path (its startprefix or its programs'
 * PT_INTERP say so), it is checked as that prefix, seen at its real path through the sandbox.
 */
export async function targetFromPrefix(dir: string, opts: { arch?: string } = {}): Promise<LayerTarget> {
  if (!isDirectory(dir))
    throw new InputError(`${dir}: not a directory`, {
      hint: "give a prefix directory (EPREFIX) or a layer spec (.yaml)",
    });
  const local = realpathSync(dir);
  const flavor = detectFlavor(local)?.id;
  if (!flavor)
    throw new InputError(`${dir}: not a compatibility layer`, {
      details: [
        "found neither a Portage installed-package database (var/db/pkg) nor a dpkg database (var/lib/dpkg/status)",
      ],
    });
  const declared = await declaredPrefix(local);
  const prefix = declared ?? local;
  let mount: LayerMount | undefined;
  if (prefix !== local) {
    const unsafe = absolutePathProblem(prefix, { normalised: true });
    if (unsafe)
      throw new InputError(
        `${dir}: the prefix the layer declares (${JSON.stringify(prefix)}, from its startprefix or its programs' loader) ${unsafe.message}`,
        {
          hint: "a layer's prefix is a plain absolute path such as /cvmfs/REPO/versions/V/compat/linux/ARCH",
        },
      );
    if (!prefix.startsWith("/cvmfs/"))
      throw new InputError(`${dir}: the layer was made for the prefix ${prefix}`, {
        hint: `check it at that path, or through its spec with --root`,
      });
    mount = { prefixDir: local, prefix };
  }
  const parts = prefix.split("/");
  const arch = pickTargetArch(opts.arch, parts.at(-1), local, prefix);
  const versionsAt = parts.lastIndexOf("versions");
  const compatAt = parts.lastIndexOf("compat");
  const eessiSet = flavorHas(flavor, "portage") ? eessiSetOf(prefix) : undefined;
  const version = versionsAt >= 0 ? parts[versionsAt + 1] : undefined;
  const hostLinks = eessiHostLinks(version, prefix);
  return {
    prefix,
    localPrefix: local,
    mount,
    flavor,
    arch,
    os: compatAt > 0 && parts[compatAt + 1] ? parts[compatAt + 1]! : "linux",
    version,
    hostLinks: hostLinks.links,
    hostLinksFrom: hostLinks.from,
    trustedDirs: undefined,
    sets: eessiSet ? [eessiSet.set] : [],
    setsFrom: eessiSet?.from,
    packageAtoms: [],
    settings: DEFAULT_SETTINGS,
    origin: mount ? `prefix ${prefix} (files in ${local})` : `prefix ${prefix}`,
  };
}

function pickTargetArch(
  option: string | undefined,
  lastComponent: string | undefined,
  local: string,
  prefix: string,
): Arch {
  if (option !== undefined) {
    if (!isArch(option)) {
      const meant = archHint(option);
      throw new InputError(`--arch ${option}: not an architecture (expected one of ${ARCHES.join(", ")})`, {
        hint: meant ? `did you mean ${meant}?` : undefined,
      });
    }
    return option;
  }
  if (isArch(lastComponent)) return lastComponent;
  for (const a of ARCHES) {
    const fs = new LayerFs({ prefix, localPrefix: local });
    if (fs.exists(posix.join(prefix, loaderRel(a)))) return a;
  }
  throw new InputError(`${local}: cannot tell the layer's architecture`, { hint: "give it with --arch" });
}
