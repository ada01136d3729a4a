/**
 * Portage set files in a directory given on the command line (`compat diff --arches SPEC --sets
 * DIR`): the overlay's `etc/portage/sets/` itself, or a checkout whose `etc/portage/sets/` it is.
 * A set name is a file name in it; a file that is a link out of the directory, not a regular file
 * or larger than any set file is refused.
 */
import { realpathSync, statSync } from "node:fs";
import { join } from "node:path";
import { InputError } from "../errors.js";
import { readRegularFileSync } from "../paths/regular-file.js";
import { isInside, nameProblem } from "../paths/rules.js";
import type { SetFiles } from "./spec-arches.js";

/** EESSI's largest set file has 22 lines; a set file of a MiB is not one. */
const MAX_SET_BYTES = 1024 * 1024;

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

export function setFilesIn(dirOption: string): SetFiles {
  if (!isDirectory(dirOption))
    throw new InputError(`--sets ${dirOption}: not a directory`, {
      hint: "give the directory of the set files (an overlay's etc/portage/sets/, or the overlay's checkout)",
    });
  const nested = join(dirOption, "etc/portage/sets");
  const where = isDirectory(nested) ? nested : dirOption;
  const real = realpathSync(where);
  // a checkout's etc/portage/sets is the checkout's too: a link out of DIR (to /proc/self, /etc …)
  // would let a pull request's spec name any file there as a set, and print its lines in errors
  const top = realpathSync(dirOption);
  if (!isInside(real, top))
    throw new InputError(`--sets ${dirOption}: ${nested} is a link out of it (to ${real})`, {
      hint: "set files are read from the directory given with --sets only: give the directory the sets are in",
    });
  return {
    where,
    read(name) {
      if (nameProblem(name)) return undefined;
      const file = join(where, name);
      let target: string;
      try {
        target = realpathSync(file);
      } catch {
        return undefined;
      }
      if (!isInside(target, real))
        throw new InputError(`${file}: a link out of ${where} (to ${target})`, {
          hint: "set files are read from the directory given with --sets only",
        });
      try {
        return { file, text: readRegularFileSync(target, MAX_SET_BYTES) };
      } catch (e) {
        throw new InputError(`cannot read the set file ${file}: ${(e as Error).message}`, {
          hint: "a set file is a small text file of atoms, one per line",
        });
      }
    },
  };
}
