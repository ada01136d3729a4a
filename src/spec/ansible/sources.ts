/**
 * Ansible variable files with positions: every value keeps where it came from, so an import
 * problem is reported as `file:line:col`.
 */
import { type Document, isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from "yaml";
import { InputError } from "../../errors.js";
import type { SpecProblem } from "../load.js";

export interface Position {
  file: string;
  line: number;
  col: number;
}

export type PathKey = string | number;

/** One YAML file as Ansible reads it (YAML 1.1: yes/no are booleans). */
export class YamlSource {
  readonly file: string;
  readonly text: string;
  readonly doc: Document;
  private readonly lines = new LineCounter();

  constructor(text: string, file: string) {
    this.file = file;
    this.text = text;
    this.doc = parseDocument(text, { lineCounter: this.lines, version: "1.1", prettyErrors: false });
  }

  /** YAML syntax errors as problems (empty when the file parsed). */
  syntaxProblems(): SpecProblem[] {
    return this.doc.errors.map((e) => ({
      ...this.at(e.pos[0]),
      field: "",
      message: `YAML: ${e.message.split("\n")[0]}`,
    }));
  }

  at(offset: number): Position {
    const p = this.lines.linePos(offset);
    return { file: this.file, line: p.line, col: p.col };
  }

  node(path: readonly PathKey[]): Node | undefined {
    return this.doc.getIn(path as unknown[], true) as Node | undefined;
  }

  /** The key node of a mapping entry (for a top-level variable: where its name is). */
  keyNode(path: readonly PathKey[]): Node | undefined {
    const parent = path.length > 1 ? this.node(path.slice(0, -1)) : this.doc.contents;
    const key = path[path.length - 1];
    if (!parent || !isMap(parent)) return undefined;
    for (const pair of parent.items)
      if (isScalar(pair.key) && String(pair.key.value) === String(key)) return pair.key as Node;
    return undefined;
  }

  /** Where the value at `path` starts; `offsetInValue` points into its source text. */
  position(path: readonly PathKey[], offsetInValue?: number): Position {
    const node = this.node(path) ?? this.keyNode(path);
    if (!node?.range) return { file: this.file, line: 1, col: 1 };
    if (offsetInValue !== undefined && isScalar(node) && typeof node.value === "string") {
      const found = this.locateInScalar(node.range[0], node.range[1], node.value, offsetInValue);
      if (found !== undefined) return this.at(found);
    }
    return this.at(node.range[0]);
  }

  /** The comment written before a variable or a list item, if any. */
  commentBefore(path: readonly PathKey[]): string | undefined {
    const key = this.keyNode(path);
    if (key?.commentBefore) return key.commentBefore;
    const parent = this.node(path.slice(0, -1));
    const last = path[path.length - 1];
    if (parent && isSeq(parent) && typeof last === "number") {
      const item = parent.items[last] as Node | undefined;
      // the comment above the first item belongs to the list itself
      if (last === 0 && !item?.commentBefore) return parent.commentBefore ?? undefined;
      return item?.commentBefore ?? undefined;
    }
    return undefined;
  }

  /** The top-level variables in file order. */
  variableNames(): string[] {
    const c = this.doc.contents;
    if (!c || !isMap(c)) return [];
    return c.items.map((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)));
  }

  toJS(): unknown {
    try {
      return this.doc.toJS({ maxAliasCount: 100 });
    } catch (e) {
      if (!(e instanceof ReferenceError)) throw e;
      throw new InputError(
        `${this.file}: its YAML aliases expand to more than 100 nodes (an alias bomb?); nothing was imported`,
        { hint: "write the values out instead of aliasing them" },
      );
    }
  }

  /**
   * Map an offset in a scalar's value to the source: find the value's text around that offset in
   * the source (exact for plain and block scalars whose lines are unchanged by indentation).
   */
  private locateInScalar(start: number, end: number, value: string, offset: number): number | undefined {
    const lineStart = value.lastIndexOf("\n", offset - 1) + 1;
    const lineEnd = value.indexOf("\n", offset);
    const line = value.slice(lineStart, lineEnd === -1 ? undefined : lineEnd);
    const at = this.text.slice(start, end).indexOf(line.trimStart());
    if (at === -1 || line.trim() === "") return undefined;
    return start + at + (offset - lineStart) - (line.length - line.trimStart().length);
  }
}
