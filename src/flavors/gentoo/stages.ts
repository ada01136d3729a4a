/**
 * The stages of a gentoo-flavor build, in order. They follow EESSI's role
 * (reference/compat-layer.md §2.4–2.5); `compat plan` lists them and the pipeline runs them.
 */
import { ACTIVATE_STAGE, CHECK_STAGE, FINALIZE_STAGE, HOST_LINKS_STAGE, type StageInfo } from "../stage.js";

export const GENTOO_STAGES = [
  {
    id: "preflight",
    description:
      "check that the build host runs the layer's arch (its own CPU family, or qemu-user through binfmt_misc) and the prefix has the required free space",
  },
  {
    id: "repos",
    description:
      "write repos.conf/gentoo.conf, check out the Gentoo tree at the pinned commit, mark it .unpacked",
  },
  {
    id: "configure",
    description: "write the Portage configuration: package.*, make.conf/, env/, profile/",
  },
  {
    id: "bootstrap",
    description: "run bootstrap-prefix.sh <EPREFIX> noninteractive twice: up to stage3, then to the end",
  },
  // EESSI makes the plain host links right after the bootstrap (install_prefix.yml), so the
  // emerge calls that follow see the host's users, groups and DNS.
  HOST_LINKS_STAGE,
  {
    id: "overlays",
    description:
      "write a repos.conf file per overlay and eclass-overrides.conf, check out each overlay at its commit, link the overlays' etc/portage entries the spec names (portageConfig) and the sets' files into etc/portage/",
  },
  {
    id: "trusted-dirs",
    description: "build glibc with user-defined-trusted-dirs and keep the setting in env/ and package.env",
  },
  { id: "install", description: "emerge the package sets, then the packages that apply to this arch" },
  { id: "remove", description: "unmerge the build-only packages" },
  { id: "locales", description: "add the locale.gen lines and run locale-gen" },
  // EESSI's order: the checks, then the final (variant) links, then the build record
  CHECK_STAGE,
  FINALIZE_STAGE,
  {
    id: "record",
    description:
      "write the build record: installed packages (qlist -IRv), build.json, bootstrap script and sha256",
  },
  ACTIVATE_STAGE,
] as const satisfies readonly StageInfo[];

export type GentooStageId = (typeof GENTOO_STAGES)[number]["id"];
