/**
 * What `compat pack` is pointed at: a layer spec (the layer then lives at its prefix in the local
 * repository root) or a prefix directory, whose `versions/<version>/compat/<os>/<arch>` path
 * gives the identity (the stack comes from --stack or the build record).
 */
import { statSync } from "node:fs";
import { resolve } from "node:path";
import { InputError } from "../errors.js";
import { ARCHES, isArch, type LayerId, parseLayerPath } from "../layer/id.js";
import { readBuildRecord } from "./build-record.js";

export interface LayerSource extends LayerId {
  prefix: string;
  specHash: string | null;
  flavor: string | null;
}

export interface LayerSourceOptions {
  arch?: string;
  root?: string;
  stack?: string;
}

export async function resolveLayerSource(target: string, opts: LayerSourceOptions): Promise<LayerSource> {
  let isDir = false;
  try {
    isDir = statSync(target).isDirectory();
  } catch {
    throw new InputError(`${target}: no such file or directory`, {
      hint: "give a layer spec (YAML) or the prefix directory of a built layer",
    });
  }
  if (!isDir) {
    // the spec's reader (YAML) is loaded only for a spec: packing a prefix does not pay for it
    const { openSpecLayer } = await import("../spec/open.js");
    const {
      loaded: { spec, hash },
      layer,
      localPrefix,
    } = await openSpecLayer(target, opts);
    return {
      prefix: localPrefix,
      stack: spec.stack,
      version: spec.version,
      os: spec.os,
      arch: layer.arch,
      specHash: hash,
      flavor: spec.flavor,
    };
  }
  const prefix = resolve(target);
  const g = parseLayerPath(prefix);
  if (!g)
    throw new InputError(
      `${prefix}: not a layer prefix (expected a path ending in <version>/compat/<os>/<arch>)`,
      {
        hint: "or pack from the layer spec: compat pack SPEC --arch A",
      },
    );
  if (!isArch(g.arch))
    throw new InputError(`${prefix}: ${g.arch} is not an architecture (${ARCHES.join(", ")})`);
  if (opts.arch && opts.arch !== g.arch)
    throw new InputError(`--arch ${opts.arch} disagrees with the prefix ${prefix}`);
  const record = readBuildRecord(prefix)?.record;
  const stack = opts.stack ?? (typeof record?.stack === "string" ? record.stack : undefined);
  if (!stack)
    throw new InputError(`${prefix}: which stack is this layer of?`, {
      hint: "pass --stack NAME (the first part of the artifact name, e.g. eessi), or pack from the spec",
    });
  return {
    prefix,
    stack,
    version: g.version,
    os: g.os,
    arch: g.arch,
    specHash: typeof record?.specHash === "string" ? record.specHash : null,
    flavor: typeof record?.flavor === "string" ? record.flavor : null,
  };
}
