import { describe, expect, it } from "vitest";
import { writeJson } from "./output.js";

describe("writeJson (printJson's pieces)", () => {
  const pieces = (v: unknown) => {
    const out: string[] = [];
    writeJson(v, (s) => out.push(s));
    return out;
  };
  const cases: [string, unknown][] = [
    ["empty object", {}],
    ["empty array", []],
    ["primitives", [5, "s\nwith a newline", null, true]],
    ["undefined and functions", { a: undefined, b: [1, undefined, () => 1], c: () => 2, d: Symbol("x") }],
    ["a Date and toJSON", { at: new Date(0), custom: { toJSON: () => "mine" } }],
    [
      "a report with a long array of findings",
      {
        summary: { objects: 3 },
        abi: {
          findings: Array.from({ length: 500 }, (_, i) => ({
            object: `/o/${i}`,
            what: "libz.so.1",
            nested: { i },
          })),
          skipped: [],
        },
      },
    ],
    [
      "nested long arrays",
      Array.from({ length: 100 }, (_, i) => Array.from({ length: 70 }, (_, j) => i * j)),
    ],
  ];
  for (const [name, value] of cases)
    it(`gives JSON.stringify(value, null, 2): ${name}`, () => {
      expect(pieces(value).join("")).toBe(JSON.stringify(value, null, 2));
    });

  it("hands a long array on in many pieces, not one string", () => {
    expect(pieces({ list: Array.from({ length: 1000 }, (_, i) => ({ i })) }).length).toBeGreaterThan(1000);
  });
});
