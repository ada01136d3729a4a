/** The context checks share: the layer's namespace, one tree walk, one ELF index, one loader probe. */
import { type ElfIndex, indexElf } from "./elf-index.js";
import { LayerFs } from "./layer-fs.js";
import { inspectLoader, type LoaderInfo } from "./loader.js";
import { type PrefixShell, startprefixShell } from "./shell.js";
import type { LayerTarget } from "./target.js";
import { type TreeIndex, walkTree } from "./tree.js";
import type { CheckContext } from "./types.js";

function once<T>(make: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => {
    p ??= make();
    return p;
  };
}

export function layerFsOf(target: LayerTarget): LayerFs {
  const mount = target.mount;
  return new LayerFs({
    prefix: target.prefix,
    localPrefix: target.localPrefix,
    repository:
      mount && "root" in mount ? { mount: `/cvmfs/${mount.repository}`, root: mount.root } : undefined,
  });
}

export function createContext(target: LayerTarget, overrides: { shell?: PrefixShell } = {}): CheckContext {
  const fs = layerFsOf(target);
  const tree = once(() => walkTree(target.localPrefix));
  const elf = once<ElfIndex>(async () => indexElf(await tree(), target.localPrefix));
  const loader = once<LoaderInfo>(() =>
    inspectLoader(fs, target.arch, target.flavor, target.trustedDirs, target.mount, target.buildRoot),
  );
  return {
    target,
    fs,
    tree: tree as () => Promise<TreeIndex>,
    elf,
    loader,
    shell: overrides.shell ?? startprefixShell(target, fs),
  };
}
