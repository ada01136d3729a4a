/**
 * POSTing a message to a channel: JSON over HTTP(S) with a timeout, tried again with exponential
 * backoff when the network fails, the service says 429 or 5xx; any other answer is final. Every
 * try is logged by channel name (never by URL: a webhook's URL is its secret). The generic webhook's
 * body is signed with HMAC-SHA256 in `X-Compat-Signature-256: sha256=<hex>` (GitHub's scheme), so
 * the receiver can check it came from whoever holds the key.
 */
import { createHmac } from "node:crypto";
import { setTimeout as delay } from "node:timers/promises";
import { log } from "../../log.js";

export const SIGNATURE_HEADER = "X-Compat-Signature-256";

export function signBody(body: string, key: string): string {
  return `sha256=${createHmac("sha256", key).update(body, "utf8").digest("hex")}`;
}

/** The system error code under fetch's "fetch failed" (its cause, or one of an AggregateError's). */
function errorCode(e: unknown, depth = 0): string | undefined {
  if (e === null || typeof e !== "object" || depth > 4) return undefined;
  const x = e as { code?: unknown; cause?: unknown; errors?: unknown[] };
  if (typeof x.code === "string" && /^E[A-Z]+$/.test(x.code)) return x.code;
  return errorCode(x.cause, depth + 1) ?? x.errors?.map((c) => errorCode(c, depth + 1)).find(Boolean);
}

export interface SendOptions {
  attempts: number;
  backoffMs: number;
  timeoutMs?: number;
}

export interface SendResult {
  ok: boolean;
  tries: number;
  /** Why it failed (status and a short body, or the network error). */
  error?: string;
}

export async function postJson(
  channel: string,
  url: string,
  body: string,
  headers: Record<string, string>,
  opts: SendOptions,
): Promise<SendResult> {
  let error = "";
  for (let attempt = 1; attempt <= opts.attempts; attempt++) {
    let retry = true;
    try {
      const r = await fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/json", "User-Agent": "compat", ...headers },
        body,
        redirect: "manual",
        signal: AbortSignal.timeout(opts.timeoutMs ?? 15_000),
      });
      const text = (await r.text().catch(() => "")).slice(0, 200).replace(/\s+/g, " ");
      if (r.ok) {
        log.debug(`notify ${channel}: delivered (HTTP ${r.status}, try ${attempt})`);
        return { ok: true, tries: attempt };
      }
      error = `HTTP ${r.status}${text ? `: ${text}` : ""}`;
      retry = r.status === 429 || r.status >= 500;
    } catch (e) {
      const cause =
        errorCode(e) ?? ((e as { cause?: { message?: unknown } }).cause?.message as string | undefined);
      error = `${(e as Error).name === "TimeoutError" ? "timed out" : (e as Error).message}${cause ? ` (${cause})` : ""}`;
    }
    log.warn(`notify ${channel}: try ${attempt} of ${opts.attempts} failed: ${error}`);
    if (!retry) return { ok: false, tries: attempt, error };
    if (attempt < opts.attempts) await delay(opts.backoffMs * 2 ** (attempt - 1));
  }
  return { ok: false, tries: opts.attempts, error };
}
