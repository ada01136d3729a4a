/**
 * Every check of the suite, in report order: first the entry point, then EESSI's fourteen
 * (adapted per flavor), then the checks no reference has. Adding a check means adding a module
 * under suite/ and one line here.
 */
import { elfInterpreter, elfLibraries } from "./suite/elf.js";
import { setuidFiles, specialFiles, worldWritable } from "./suite/files.js";
import { gentooRepoGit, glibcTrustedDirs, setDefined } from "./suite/gentoo.js";
import { hostSymlinks } from "./suite/host-symlinks.js";
import { glibcEnvFile, reprodRecord, setInstalled } from "./suite/packages.js";
import {
  archspec,
  echo,
  emerge,
  equery,
  lmod,
  pipCheck,
  startprefix,
  tools,
  utf8Locale,
} from "./suite/shell-checks.js";
import { danglingSymlinks, variantSymlinks } from "./suite/symlinks.js";
import type { Check } from "./types.js";

export const CHECKS: readonly Check[] = [
  startprefix,
  echo,
  tools,
  emerge,
  equery,
  archspec,
  lmod,
  setDefined,
  setInstalled,
  utf8Locale,
  hostSymlinks,
  gentooRepoGit,
  glibcEnvFile,
  glibcTrustedDirs,
  pipCheck,
  elfInterpreter,
  elfLibraries,
  danglingSymlinks,
  variantSymlinks,
  worldWritable,
  setuidFiles,
  specialFiles,
  reprodRecord,
];

export function checkById(id: string): Check | undefined {
  return CHECKS.find((c) => c.id === id);
}
