import { describe, expect, it } from "vitest";
import { InputError } from "../../errors.js";
import type { SiteLayer } from "../../site/load.js";
import { GATE_IDS, GATES, requiredGates, selectGates } from "./registry.js";
import type { Gate } from "./types.js";

const layer = (name: string): SiteLayer => ({ name, spec: `/specs/${name}.yaml`, arches: undefined });

describe("the gate registry", () => {
  it("has checks, audit, delta and impact, each id once", () => {
    expect(GATE_IDS).toEqual(["checks", "audit", "delta", "impact"]);
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
    // impact applies only to a layer whose site config names software built on it
    const everywhere = ["checks", "audit", "delta"];
    expect(requiredGates(layer("dev"), all).map((g) => g.id)).toEqual(everywhere);
    expect(requiredGates(layer("gentoo"), all).map((g) => g.id)).toEqual([...everywhere, "only-gentoo"]);
    const withSoftware = { ...layer("dev"), impact: { software: [{ path: "/srv/sw" }], tests: [] } };
    expect(requiredGates(withSoftware, all).map((g) => g.id)).toEqual([...everywhere, "impact"]);
    expect(requiredGates(undefined, all).map((g) => g.id)).toEqual([...GATE_IDS, "only-gentoo"]);
  });

  it("selects gates by id, refusing an unknown one", () => {
    expect(selectGates(["delta"], layer("dev")).map((g) => g.id)).toEqual(["delta"]);
    expect(selectGates(undefined, layer("dev")).map((g) => g.id)).toEqual(["checks", "audit", "delta"]);
    expect(() => selectGates(["impact"], layer("dev"))).toThrow(/gate impact does not apply to layer dev/);
    expect(() => selectGates(["delta", "nope"], layer("dev"))).toThrow(InputError);
    expect(() => selectGates(["__proto__"], layer("dev"))).toThrow(/no gate __proto__/);
  });
});
