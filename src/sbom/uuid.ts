/** A name-based UUID, version 5 (RFC 9562: SHA-1 of a namespace and a name), in the URL namespace. */
import { createHash } from "node:crypto";

const URL_NAMESPACE = Buffer.from("6ba7b8119dad11d180b400c04fd430c8", "hex");

export function uuidV5(name: string): string {
  const h = createHash("sha1").update(URL_NAMESPACE).update(name, "utf8").digest().subarray(0, 16);
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.toString("hex");
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}
