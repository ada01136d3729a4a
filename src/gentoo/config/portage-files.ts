/**
 * The files under `etc/portage/` that come from the layer spec, with the names and contents
 * EESSI's role writes (tasks/portage_configuration.yml and set_glibc_trusted_dirs.yml). One
 * deliberate difference: package.accept_keywords gets its right name (the role writes
 * `package.accept_keywords }}`, reference/compat-layer.md §9.1).
 */
import { type GentooSettings, TRUSTED_DIRS_ENV_FILE } from "../../spec/schema.js";

/** A configuration file, relative to EPREFIX, with the spec field it comes from. */
export interface PortageFile {
  path: string;
  content: string;
  from: string;
}

/** The package.env line that keeps glibc's user-defined-trusted-dirs on every rebuild. */
export const TRUSTED_DIRS_PACKAGE_ENV_LINE = `sys-libs/glibc ${TRUSTED_DIRS_ENV_FILE}`;

/** File content as written: a missing final newline is added, so files concatenate and diff cleanly. */
export function fileText(content: string): string {
  return content === "" || content.endsWith("\n") ? content : `${content}\n`;
}

/**
 * Ansible `lineinfile` with `state: present`: the line is appended unless a line equal to it is
 * already there (a missing final newline is added first).
 */
export function ensureLine(content: string, line: string): string {
  if (content.split("\n").includes(line)) return content;
  return `${fileText(content)}${line}\n`;
}

export function renderTrustedDirsEnv(dirs: readonly string[]): string {
  return `EXTRA_EMAKE="user-defined-trusted-dirs=${dirs.join(":")}"\n`;
}

/**
 * Every `etc/portage` file the spec defines. `trustedDirs` are the resolved glibc trusted dirs of
 * the arch; when there are any, the env file and its package.env line are added as the role does.
 */
export function portageConfigFiles(gentoo: GentooSettings, trustedDirs: readonly string[]): PortageFile[] {
  const files: PortageFile[] = [];
  const add = (path: string, content: string | undefined, from: string) => {
    // The role writes a file only when its variable is set and not empty.
    if (content !== undefined && content !== "")
      files.push({ path: `etc/portage/${path}`, content: fileText(content), from });
  };
  add("package.mask", gentoo.packageMask, "gentoo.packageMask");
  add("package.unmask", gentoo.packageUnmask, "gentoo.packageUnmask");
  add("package.use", gentoo.packageUse, "gentoo.packageUse");
  add("package.accept_keywords", gentoo.packageAcceptKeywords, "gentoo.packageAcceptKeywords");
  for (const [name, content] of Object.entries(gentoo.makeConf))
    add(`make.conf/${name}`, content, `gentoo.makeConf.${name}`);
  add("profile/package.use.mask", gentoo.profilePackageUseMask, "gentoo.profilePackageUseMask");
  for (const [name, content] of Object.entries(gentoo.packageEnvFiles))
    add(name, content, `gentoo.packageEnvFiles.${name}`);

  if (trustedDirs.length > 0) {
    add(`env/${TRUSTED_DIRS_ENV_FILE}`, renderTrustedDirsEnv(trustedDirs), "gentoo.trustedDirs");
    const packageEnv = files.find((f) => f.path === "etc/portage/package.env");
    if (packageEnv) {
      packageEnv.content = ensureLine(packageEnv.content, TRUSTED_DIRS_PACKAGE_ENV_LINE);
      packageEnv.from = `${packageEnv.from} + gentoo.trustedDirs`;
    } else add("package.env", `${TRUSTED_DIRS_PACKAGE_ENV_LINE}\n`, "gentoo.trustedDirs");
  }
  return files;
}
