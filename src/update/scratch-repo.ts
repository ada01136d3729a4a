/**
 * A scratch local repository: artifacts published into a throwaway directory by the real local
 * publisher (full verification, the same delta application as a real target), to prove what a
 * publish would make, or to unpack a published layer for an update to build over.
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { LocalPublisher } from "../publish/local.js";
import type { PublishResult } from "../publish/publisher.js";

export class ScratchRepository {
  readonly publisher: LocalPublisher;

  constructor(readonly root: string) {
    this.publisher = new LocalPublisher(root);
  }

  /** The layer's directory in the scratch repository. */
  layerPath(topDir: string): string {
    return join(this.root, "versions", topDir);
  }

  /** Publish exactly the artifact of `sha256` (anything else is refused while it is read). */
  async publish(artifact: string, sha256: string, signal?: AbortSignal): Promise<PublishResult> {
    await mkdir(this.root, { recursive: true });
    return this.publisher.publish({ artifact, approvedSha256: sha256, signal });
  }
}
