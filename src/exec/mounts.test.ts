import { describe, expect, it } from "vitest";
import { mountsUnder } from "./mounts.js";

// lines as /proc/self/mountinfo has them after mmdebstrap (root mode) was killed in a tree whose
// path holds a space (written \040 by the kernel)
const MOUNTINFO = [
  "22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw",
  "25 22 0:5 / /dev rw,nosuid shared:2 - devtmpfs udev rw",
  "301 22 0:54 / /tmp/b\\040x/.build-1/rootfs/proc ro,relatime shared:150 - proc proc ro",
  "302 22 0:55 / /tmp/b\\040x/.build-1/rootfs/sys ro,relatime shared:151 - sysfs sys ro",
  "303 22 0:56 / /tmp/b\\040x/.build-1/rootfs/dev/pts rw shared:152 - devpts none rw",
  "304 303 0:57 / /tmp/b\\040x/.build-1/rootfs/dev/pts/x rw shared:153 - tmpfs none rw",
  "305 22 0:58 / /tmp/b\\040x/.build-10/rootfs/proc ro shared:154 - proc proc ro",
  "",
].join("\n");

describe("mountsUnder", () => {
  it("lists the mounts at or below a directory, deepest first, with the kernel's escapes undone", () => {
    expect(mountsUnder("/tmp/b x/.build-1", MOUNTINFO)).toEqual([
      "/tmp/b x/.build-1/rootfs/dev/pts/x",
      "/tmp/b x/.build-1/rootfs/dev/pts",
      "/tmp/b x/.build-1/rootfs/proc",
      "/tmp/b x/.build-1/rootfs/sys",
    ]);
    expect(mountsUnder("/tmp/b x/.build-1/rootfs/proc/", MOUNTINFO)).toEqual([
      "/tmp/b x/.build-1/rootfs/proc",
    ]);
  });

  it("does not take a sibling with the same prefix, and finds nothing where nothing is mounted", () => {
    expect(mountsUnder("/tmp/b x/.build-10", MOUNTINFO)).toEqual(["/tmp/b x/.build-10/rootfs/proc"]);
    expect(mountsUnder("/srv/layers", MOUNTINFO)).toEqual([]);
    expect(mountsUnder("/tmp/compat-mounts-test-nothing-here")).toEqual([]);
  });
});
