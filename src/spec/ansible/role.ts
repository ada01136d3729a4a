/**
 * What a flavor's part of `compat import-ansible` reads EESSI's compatibility_layer role through:
 * the role's variables (defaults merged with the vars file, Jinja resolved), with every value's
 * origin kept for the spec's comments and its problems located in the file that set it. The
 * importer (./import.ts) implements it; the flavor whose layers the role builds
 * (FlavorModule.ansibleRole) turns the variables into its spec section.
 */
import type { PathKey, Position } from "./sources.js";

export type { PathKey };

/** `value`: one value for all arches. `content`: file contents, as they are. `template`: per-arch values become `{placeholders}`. */
export type Mode = "value" | "content" | "template";

export interface RoleVariables {
  /** Whether the defaults or the vars file set the variable. */
  has(name: string): boolean;
  /** A string variable (or a field of one) as `mode` says; undefined when unset or wrong (a problem). `origin`: the spec path it becomes. */
  str(path: readonly PathKey[], mode: Mode, origin?: PathKey[]): string | undefined;
  /** A list variable's strings. */
  strings(path: readonly PathKey[], mode: Mode, origin: PathKey[]): string[];
  /** The mappings of a list variable, each turned into a spec entry (at `field`) by `convert`. */
  mappings(
    variable: string,
    field: PathKey[],
    known: string[],
    convert: (path: PathKey[], at: PathKey[], item: Record<string, unknown>) => Record<string, unknown>,
  ): Record<string, unknown>[];
  /** Copy the string (or boolean) fields `source key → spec key` that are set. */
  fields(
    path: PathKey[],
    at: PathKey[],
    strings: Array<[string, string]>,
    booleans?: Array<[string, string]>,
  ): Record<string, unknown>;
  /** A `name → content` mapping variable (files); empty contents are skipped, as the role does. */
  fileMap(variable: string, at: PathKey[]): Record<string, string>;
  /** `<prefix template>/x` → `{prefix}/x`. */
  underPrefix(path: string, prefix: string): string;
  /** A comment above the spec field at `path`. */
  comment(path: PathKey[], text: string | undefined): void;
  /** The comment above a variable in the file that set it. */
  sourceComment(path: readonly PathKey[]): string | undefined;
  /** Where a variable (or a field of one) was set. */
  position(path: readonly PathKey[]): Position;
  /** A variable the spec needs and neither file sets (a problem located at the vars file). */
  missing(variable: string, message: string): void;
  /** A warning for people, located where `path` was set. */
  warnAt(path: readonly PathKey[], message: string): void;
}
