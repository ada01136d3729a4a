export * from "./load.js";
export * from "./resolve.js";
export * from "./schema.js";
