import { availableParallelism } from "node:os";
import { defineConfig } from "vitest/config";
import { LongFilesFirst } from "./test/sequencer.js";

/**
 * Files that must run with nothing else running: a CernVM-FS publish waits at its remount while
 * another process holds a copy of the repository's mounts in a mount namespace of its own (every
 * sandbox and build of the other files makes one, and where `/` is not a shared mount, as in CI's
 * container, the copy keeps the mounts the host unmounts); cvmfs_server mkfs/rmfs edit /etc/fstab
 * and Apache's config without a lock; the load test takes both cores for 30 s.
 */
const ALONE = [
  "test/integration/cvmfs-real.test.ts",
  "test/integration/cvmfs-recovery.test.ts",
  "test/server/load.test.ts",
];

export default defineConfig({
  test: {
    // a guard against hangs, not a speed requirement: files run side by side on a 2-core machine
    testTimeout: 300_000,
    hookTimeout: 900_000,
    reporters: process.env.CI ? ["default", "junit"] : ["default"],
    outputFile: { junit: "reports/junit.xml" },
    pool: "forks",
    // vitest reads the sequencer from the root config only
    sequence: { sequencer: LongFilesFirst },
    projects: [
      {
        extends: true,
        test: {
          name: "side-by-side",
          // the dev layer, the outdated dev layer and the build root, built at once before the files that share them
          globalSetup: ["test/global-setup.ts"],
          include: ["src/**/*.test.ts", "test/**/*.test.ts"],
          exclude: ALONE,
          maxWorkers: Math.max(2, Math.min(4, availableParallelism())),
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: "alone",
          include: ALONE,
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
