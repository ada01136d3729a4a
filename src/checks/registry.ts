/**
 * Every check of the suite, in report order: first the entry point, then EESSI's fourteen
 * (adapted per flavor), then the checks no reference has. Adding a check means adding a module
 * under suite/ (one module per check, named by its id) and one line here.
 */
import { archspec } from "./suite/archspec.js";
import { echo } from "./suite/echo.js";
import { elfInterpreter } from "./suite/elf-interpreter.js";
import { elfLibraries } from "./suite/elf-libraries.js";
import { emerge } from "./suite/emerge.js";
import { equery } from "./suite/equery.js";
import { gentooRepoGit } from "./suite/gentoo-repo-git.js";
import { glibcEnvFile } from "./suite/glibc-env-file.js";
import { glibcTrustedDirs } from "./suite/glibc-trusted-dirs.js";
import { hostSymlinks } from "./suite/host-symlinks.js";
import { lmod } from "./suite/lmod.js";
import { utf8Locale } from "./suite/locale-utf8.js";
import { pipCheck } from "./suite/pip-check.js";
import { reprodRecord } from "./suite/reprod-record.js";
import { setDefined } from "./suite/set-defined.js";
import { setInstalled } from "./suite/set-installed.js";
import { setuidFiles } from "./suite/setuid.js";
import { specialFiles } from "./suite/special-files.js";
import { startprefix } from "./suite/startprefix.js";
import { danglingSymlinks } from "./suite/symlinks.js";
import { tools } from "./suite/tools.js";
import { variantSymlinks } from "./suite/variant-symlinks.js";
import { worldWritable } from "./suite/world-writable.js";
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
