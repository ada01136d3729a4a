/** Where the read-only reference data lives: `../shared/data` beside the project root (see BRIEF). */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const SHARED_DATA = fileURLToPath(new URL("../../../shared/data/", import.meta.url));
export const GLSA_DIR = `${SHARED_DATA}glsa`;

export function readVectors<T>(file: string): T {
  return JSON.parse(readFileSync(`${SHARED_DATA}vectors/${file}`, "utf8")) as T;
}
