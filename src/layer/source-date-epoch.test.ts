import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { InputError } from "../errors.js";
import {
  LAST_EPOCH,
  parseSourceDateEpoch,
  releaseFileDate,
  resolveSourceDateEpoch,
} from "./source-date-epoch.js";

const NOW = 1_765_000_000; // 2025-12-06T05:46:40Z
const never = async () => {
  throw new Error("derive must not be called");
};

describe("SOURCE_DATE_EPOCH", () => {
  it("takes whole seconds from 0 up to now", () => {
    expect(parseSourceDateEpoch("0", "SOURCE_DATE_EPOCH", NOW)).toBe(0);
    expect(parseSourceDateEpoch("1749634260", "SOURCE_DATE_EPOCH", NOW)).toBe(1749634260);
    expect(parseSourceDateEpoch(" 1749634260\n", "SOURCE_DATE_EPOCH", NOW)).toBe(1749634260);
    expect(parseSourceDateEpoch(NOW, "debian.sourceDateEpoch", NOW)).toBe(NOW);
  });

  it.each([
    ["-1", /not a unix time in whole seconds/],
    ["1.5", /not a unix time in whole seconds/],
    ["1e9", /not a unix time in whole seconds/],
    ["0x10", /not a unix time in whole seconds/],
    ["", /not a unix time in whole seconds/],
    ["yesterday", /not a unix time in whole seconds/],
    ["1749634260; rm -rf /", /not a unix time in whole seconds/],
    ["Infinity", /not a unix time in whole seconds/],
    ["9".repeat(400), /not a unix time in whole seconds/],
    [String(LAST_EPOCH + 1), /beyond the year 9999/],
    [String(NOW + 1), /is in the future/],
    ["4102444800", /2100-01-01T00:00:00.000Z\) is in the future/],
  ])("refuses %j with an InputError naming the variable", (value, message) => {
    let err: unknown;
    try {
      parseSourceDateEpoch(value, "SOURCE_DATE_EPOCH", NOW);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).message).toMatch(/^SOURCE_DATE_EPOCH=/);
    expect((err as InputError).message).toMatch(message);
    expect((err as InputError).message.length).toBeLessThan(300);
  });

  it("refuses a negative or fractional spec value too (the schema does first; this is the second line)", () => {
    expect(() => parseSourceDateEpoch(-5, "debian.sourceDateEpoch", NOW)).toThrow(
      /debian.sourceDateEpoch="-5": not a unix time/,
    );
    expect(() => parseSourceDateEpoch(1.5, "debian.sourceDateEpoch", NOW)).toThrow(/not a unix time/);
  });

  it("the environment wins over the spec, the spec over the derivation", async () => {
    const derive = async () => ({ epoch: 1_700_000_000, from: "the Release files of bookworm" });
    expect(await resolveSourceDateEpoch({ env: "1600000000", spec: 1650000000, derive, now: NOW })).toEqual({
      epoch: 1600000000,
      from: "environment",
    });
    expect(await resolveSourceDateEpoch({ env: "", spec: 1650000000, derive: never, now: NOW })).toEqual({
      epoch: 1650000000,
      from: "spec",
    });
    expect(await resolveSourceDateEpoch({ env: undefined, derive, now: NOW })).toEqual({
      epoch: 1_700_000_000,
      from: "the Release files of bookworm",
    });
  });

  it("checks a derived value as strictly as a given one (a mirror's Date in the future is refused)", async () => {
    const derive = async () => ({ epoch: NOW + 86_400, from: "the Release files of bookworm" });
    await expect(resolveSourceDateEpoch({ derive, now: NOW })).rejects.toThrow(
      /the epoch derived from the Release files of bookworm=.* is in the future/,
    );
  });

  it("a bad environment value is refused even when the spec has one", async () => {
    await expect(
      resolveSourceDateEpoch({ env: "soon", spec: 1650000000, derive: never, now: NOW }),
    ).rejects.toThrow(/SOURCE_DATE_EPOCH="soon"/);
  });
});

describe("a Release file's Date", () => {
  const testdata = join(import.meta.dirname, "../debian/testdata");

  it("reads Debian's RFC 2822 UTC date", () => {
    expect(releaseFileDate("Origin: Debian\nDate: Sat, 10 May 2025 08:46:58 UTC\nValid-Until: x\n")).toBe(
      Date.parse("2025-05-10T08:46:58Z") / 1000,
    );
    const text = readFileSync(join(testdata, "bookworm-security.InRelease"), "utf8");
    expect(releaseFileDate(text)).toBe(Date.parse("2026-12-06T02:54:29Z") / 1000);
  });

  it("says undefined for a file without a readable Date (Valid-Until is not one)", () => {
    expect(releaseFileDate("Origin: Debian\nValid-Until: Sat, 10 May 2025 08:46:58 UTC\n")).toBeUndefined();
    expect(releaseFileDate("Date: someday\n")).toBeUndefined();
    expect(releaseFileDate("")).toBeUndefined();
  });
});
