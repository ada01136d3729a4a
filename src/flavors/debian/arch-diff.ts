/** The debian flavor's items of `compat diff --arches SPEC`: debian.packages, valued by the arch's suite. */
import type { FlavorArchDiff } from "../arch-diff.js";
import { addItem } from "../arch-diff.js";
import { debianSuiteFor } from "./spec-section.js";

export const archDiff: FlavorArchDiff = {
  items(spec, _layer, arch) {
    const items = new Map<string, string>();
    for (const p of spec.debian?.packages ?? []) addItem(items, p, debianSuiteFor(spec.debian!, arch));
    return { items, setFiles: [], unreadSets: false };
  },
  emptyHint: "list the packages in debian.packages",
  note: (spec) =>
    `the packages of the mmdebstrap variant (${spec.debian?.variant}) and every dependency come on top on each arch; compare built layers (compat diff --arches LAYER…) to see those`,
};
