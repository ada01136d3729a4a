import { linkSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { describeFileSystem, diskUsage, fileSystemOf, formatBytes } from "./disk.js";

let dir = "";
afterEach(() => dir && rmSync(dir, { recursive: true, force: true }));

describe("disk facts", () => {
  it("prints sizes as df -h and du -h do (1024-based)", () => {
    expect([0, 1023, 1536, 312 * 2 ** 20, 1.25 * 2 ** 30].map(formatBytes)).toEqual([
      "0 B",
      "1023 B",
      "1.5 KiB",
      "312 MiB",
      "1.3 GiB",
    ]);
  });

  it("counts a tree's blocks as du does, a hard-linked file once", () => {
    dir = mkdtempSync(join(tmpdir(), "compat-disk-"));
    mkdirSync(join(dir, "a"));
    writeFileSync(join(dir, "a/big"), Buffer.alloc(1 << 20, 1));
    linkSync(join(dir, "a/big"), join(dir, "a/again"));
    const blocks = (p: string) => statSync(p).blocks * 512;
    expect(diskUsage(dir)).toBe(blocks(dir) + blocks(join(dir, "a")) + blocks(join(dir, "a/big")));
    expect(diskUsage(join(dir, "missing"))).toBe(0);
  });

  it("finds the file system of a path (or of its nearest existing parent) in mountinfo", () => {
    dir = mkdtempSync(join(tmpdir(), "compat-disk-"));
    const st = statSync(dir);
    const device = `${(st.dev >> 8) & 0xfff}:${(st.dev & 0xff) | ((st.dev >> 12) & 0xfff00)}`;
    const mountinfo = [
      "22 27 0:21 / /proc rw,relatime - proc proc rw",
      `27 1 ${device} / / rw,relatime - ext4 /dev/root rw`,
      `30 27 ${device} / ${dir} rw,relatime - xfs /dev/sdb1 rw`,
      `31 27 ${device} / ${dir}-other rw,relatime - btrfs /dev/sdc rw`,
      "32 27 0:99 / /mnt/elsewhere rw - tmpfs tmpfs rw",
    ].join("\n");
    const fs = fileSystemOf(join(dir, "not/yet/made"), mountinfo)!;
    expect(fs).toMatchObject({ mountPoint: dir, type: "xfs", source: "/dev/sdb1" });
    expect(fs.size).toBeGreaterThan(0);
    expect(describeFileSystem(fs)).toMatch(
      new RegExp(`^${dir} \\(xfs on /dev/sdb1\\): [\\d.]+ \\w+ free of [\\d.]+ \\w+$`),
    );
  });
});
