/**
 * The stages of a debian-flavor build, in order (DESIGN.md "Flavors": Debian binaries relocated
 * into the prefix). `compat plan` lists them and the pipeline runs them.
 */
import { ACTIVATE_STAGE, CHECK_STAGE, FINALIZE_STAGE, HOST_LINKS_STAGE, type StageInfo } from "../stage.js";

export const DEBIAN_STAGES = [
  {
    id: "preflight",
    description:
      "check that the build host runs the layer's arch (its own CPU family, or qemu-user through binfmt_misc), the tools are installed and apt has every package",
  },
  { id: "bootstrap", description: "run mmdebstrap for the suite, variant and packages into a staging tree" },
  {
    id: "relocate",
    description:
      "move the tree to the prefix; set ELF interpreters and RPATHs, shebangs and absolute symlinks into it",
  },
  { id: "configure", description: "write startprefix and the environment the layer needs" },
  { id: "locales", description: "add the locale.gen lines and generate the locales" },
  HOST_LINKS_STAGE,
  // EESSI's order: the checks, then the final (variant) links, then the build record
  CHECK_STAGE,
  FINALIZE_STAGE,
  { id: "record", description: "write the build record: installed packages, build.json" },
  ACTIVATE_STAGE,
] as const satisfies readonly StageInfo[];

export type DebianStageId = (typeof DEBIAN_STAGES)[number]["id"];
