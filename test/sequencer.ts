/**
 * The order test files start in: the files that run for minutes (they build layers or build roots
 * of their own, start Slurm, emulate another CPU) first, longest first, so that the workers end
 * together instead of one starting a five-minute file when the rest is done. Then vitest's own
 * order (its recorded durations when it has them; larger files first on a clean clone).
 */
import { BaseSequencer, type TestSpecification } from "vitest/node";

/** By their time in a whole-suite run (the junit report), longest first. */
const LONG_FILES = [
  "test/integration/update-dev.test.ts",
  "test/integration/executors.test.ts",
  "test/integration/foreign-arch.test.ts",
  "test/integration/build.test.ts",
  "test/integration/debian-security.test.ts",
  "test/integration/publish-local.test.ts",
  "test/integration/reproducible.test.ts",
  "test/integration/buildroot.test.ts",
  "test/integration/impact.test.ts",
];

const rank = (spec: TestSpecification) => {
  const i = LONG_FILES.findIndex((f) => spec.moduleId.endsWith(`/${f}`));
  return i < 0 ? LONG_FILES.length : i;
};

export class LongFilesFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    return (await super.sort(files)).sort((a, b) => rank(a) - rank(b));
  }
}
