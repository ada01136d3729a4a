/** JSON columns: canonical JSON text in, parsed values out (the same on both backends). */
import { canonicalJson } from "../config/yaml.js";

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export function toJsonText(value: unknown): string {
  return canonicalJson(value);
}

export function fromJsonText<T = JsonValue>(text: string): T;
export function fromJsonText<T = JsonValue>(text: string | null): T | null;
export function fromJsonText<T = JsonValue>(text: string | null): T | null {
  return text === null ? null : (JSON.parse(text) as T);
}
