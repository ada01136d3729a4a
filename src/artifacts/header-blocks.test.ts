import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { BLOCK, HeaderBlocks } from "./tar-header.js";

/** Feeds `bytes` in chunks of `size` and collects the whole blocks and what is left. */
function gather(bytes: Buffer, size: number): { blocks: Buffer[]; rest: Buffer } {
  const headers = new HeaderBlocks();
  const blocks: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += size) {
    const chunk = bytes.subarray(at, at + size);
    let i = 0;
    while (i < chunk.length) {
      const { used, block } = headers.take(chunk, i);
      expect(used).toBeGreaterThan(0);
      i += used;
      if (block) blocks.push(Buffer.from(block));
    }
  }
  return { blocks, rest: headers.rest() };
}

describe("HeaderBlocks", () => {
  const bytes = randomBytes(3 * BLOCK + 100);
  for (const size of [1, 7, 511, 512, 513, 1000, 4096])
    it(`gives the same 512-byte blocks whatever the chunks (${size} bytes)`, () => {
      const { blocks, rest } = gather(bytes, size);
      expect(blocks).toEqual([0, 1, 2].map((n) => bytes.subarray(n * BLOCK, (n + 1) * BLOCK)));
      expect(rest).toEqual(bytes.subarray(3 * BLOCK));
    });

  it("says when a block has begun", () => {
    const headers = new HeaderBlocks();
    expect(headers.started).toBe(false);
    expect(headers.take(Buffer.alloc(10), 0)).toEqual({ used: 10 });
    expect(headers.started).toBe(true);
    expect(headers.take(Buffer.alloc(600), 0).used).toBe(BLOCK - 10);
    expect(headers.started).toBe(false);
  });
});
