import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { isUndoArchiveOf, undoDir } from "./undo.js";

const STATE = "/var/lib/compat";
const REPO = "software.example.org";
const LAYER = "2025.06/compat/linux/x86_64";
const ID = "0b9e1c1e-5f0a-4d4e-9c3b-2a1d0e9f8c7b";
const NAME = "dev-2025.06-compat-linux-x86_64-1750000000.delta.tar.zst";

describe("undo archive paths read from the history or a journal", () => {
  it("are accepted only as undoDir(…, id)/<one name> of this repository and layer", () => {
    const good = join(undoDir(STATE, REPO, LAYER, ID), NAME);
    expect(isUndoArchiveOf(good, STATE, REPO, LAYER)).toBe(true);
    expect(isUndoArchiveOf(good, STATE, REPO, LAYER, ID)).toBe(true);
    for (const bad of [
      "/etc/passwd",
      join(undoDir(STATE, REPO, LAYER, ID), ".."),
      `${undoDir(STATE, REPO, LAYER, ID)}/../../${ID}/${NAME}`,
      join(undoDir(STATE, REPO, "2026.06/compat/linux/x86_64", ID), NAME),
      join(undoDir(STATE, "other.example.org", LAYER, ID), NAME),
      join(undoDir("/tmp/elsewhere", REPO, LAYER, ID), NAME),
      join(undoDir(STATE, REPO, LAYER, "not-an-id"), NAME),
      `${undoDir(STATE, REPO, LAYER, ID)}/`,
    ])
      expect(isUndoArchiveOf(bad, STATE, REPO, LAYER), bad).toBe(false);
    // another journal entry's archive
    expect(isUndoArchiveOf(good, STATE, REPO, LAYER, "1b9e1c1e-5f0a-4d4e-9c3b-2a1d0e9f8c7b")).toBe(false);
  });
});
