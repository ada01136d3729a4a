import { describe, expect, it } from "vitest";
import { InputError } from "../../errors.js";
import type { SiteLayer } from "../../site/load.js";
import { GATE_IDS, GATES, requiredGates, selectGates } from "./registry.js";
import type { Gate } from "./types.js";

const layer = (name: string): SiteLayer => ({ name, spec: `/specs/${name}.yaml`, arches: undefined });

describe("the gate registry", () => {
  it("has checks, audit and delta, each id once", () => {
    expect(GATE_IDS).toEqual(expect.arrayContaining(["checks", "audit", "delta"]));
    expect(new Set(GATE_IDS).size).toBe(GATE_IDS.length);
    for (const g of GATES) expect(g.id).toMatch(/^[a-z][a-z0-9-]*$/);
  });

  it("requires of a layer the gates that apply to it, and of a layer gone from the config every gate", () => {
    const onlyGentoo: Gate = {
      id: "only-gentoo",
      title: "t",
      proves: "p",
      applies: (l) => l.name === "gentoo",
      run: () => Promise.reject(new Error("not run here")),
    };
    const all = [...GATES, onlyGentoo];
    expect(requiredGates(layer("dev"), all).map((g) => g.id)).toEqual(GATE_IDS);
    expect(requiredGates(layer("gentoo"), all).map((g) => g.id)).toEqual([...GATE_IDS, "only-gentoo"]);
    expect(requiredGates(undefined, all).map((g) => g.id)).toEqual([...GATE_IDS, "only-gentoo"]);
  });

  it("selects gates by id, refusing an unknown one", () => {
    expect(selectGates(["delta"], layer("dev")).map((g) => g.id)).toEqual(["delta"]);
    expect(selectGates(undefined, layer("dev")).map((g) => g.id)).toEqual(GATE_IDS);
    expect(() => selectGates(["delta", "nope"], layer("dev"))).toThrow(InputError);
    expect(() => selectGates(["__proto__"], layer("dev"))).toThrow(/no gate __proto__/);
  });
});
