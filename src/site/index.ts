/** The site config (compat.yaml): load it, then look up its layers and targets. */
export * from "./layers.js";
export * from "./load.js";
export * from "./names.js";
export * from "./schema.js";
