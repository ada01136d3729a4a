/**
 * compat-layer/gentoo: Gentoo's versions, atoms, installed-package database and GLSAs,
 * with Portage's semantics. Pure functions except the readers of var/db/pkg and qlist lists.
 */
export * from "./atom.js";
export * from "./contents.js";
export * from "./cpv.js";
export * from "./glsa/match.js";
export * from "./glsa/parse.js";
export * from "./match.js";
export * from "./qlist.js";
export * from "./validate.js";
export * from "./vardb.js";
export * from "./version.js";
