/**
 * The debian flavor's derived SOURCE_DATE_EPOCH: the newest `Date` among the InRelease files of the
 * suites the build installs from (the spec's suite, its -updates and -security), as the build's
 * apt sources name them.
 *
 *   const d = await suitesReleaseDate({ settings, hostSources, logTo });
 *   // → { epoch: 1765000000, from: "the Release files of bookworm, bookworm-updates, bookworm-security" }
 *
 * Why the Release files: the epoch must be known before mmdebstrap runs (dpkg's maintainer scripts
 * read it: shadow's last-change day, py_compile's .pyc mode), when the installed packages are not
 * known yet; a suite's Release Date changes whenever the archive publishes a change to it, so the
 * same mirror state gives the same epoch and a security update gives a later one (and a later
 * artifact name). It is the time of the mirror state, as debuerreotype uses a snapshot's time.
 * A pinned snapshot mirror (`debian.mirror`) gives a fixed epoch.
 *
 * Each InRelease is verified with gpgv against the keyring the source is signed by (Signed-By), or
 * Debian's archive keyring and apt's trusted keys, and the Date is read from the text gpgv printed as
 * verified: an unsigned or forged Date (one added before or after the signed part included) is not used.
 */
import { existsSync, readdirSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { InputError, IoError, isCompatError, ToolError, ValidationError } from "../errors.js";
import { run } from "../exec/run.js";
import type { Arch } from "../layer/id.js";
import { releaseFileDate, type SourceDateEpoch } from "../layer/source-date-epoch.js";
import { readRegularFile } from "../paths/regular-file.js";
import { type DebianSettings, debianSuiteFor } from "../spec/schema.js";
import { type AptSource, debianSources, parseDeb822Sources } from "./sources.js";

const DEBIAN_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg";
const APT_TRUSTED = "/etc/apt/trusted.gpg.d";
/** An InRelease is about 150 KB; one of 16 MiB is not one. */
const MAX_RELEASE_BYTES = 16 * 1024 * 1024;
const FETCH_TIMEOUT_MS = 60_000;

export interface ReleaseDateOptions {
  settings: DebianSettings;
  /** The layer's arch: the suite may be named per arch. */
  arch: Arch;
  hostSources: readonly AptSource[];
  logTo?: Writable;
  signal?: AbortSignal;
  /** How long one InRelease may take to arrive, the whole body included (default 60 s). */
  timeoutMs?: number;
  /** Keyrings for sources without Signed-By (default Debian's archive keyring and apt's trusted.gpg.d). */
  defaultKeyrings?: string[];
  /**
   * What a person can do instead of a Release date, in the hints (default: the debian flavor's
   * `debian.sourceDateEpoch`); a build root has no such field, so it names what works there.
   */
  epochFix?: string;
}

/** The debian flavor's way round a mirror that gives no Release date. */
export const DEBIAN_EPOCH_FIX = "set debian.sourceDateEpoch (or SOURCE_DATE_EPOCH)";

/** Where a suite's InRelease is: `<uri>/dists/<suite>/InRelease`. */
export function inReleaseUrl(uri: string, suite: string): string {
  return `${uri.replace(/\/+$/, "")}/dists/${suite}/InRelease`;
}

function defaultKeyrings(): string[] {
  const trusted = existsSync(APT_TRUSTED)
    ? readdirSync(APT_TRUSTED)
        .filter((n) => n.endsWith(".gpg"))
        .sort()
        .map((n) => join(APT_TRUSTED, n))
    : [];
  return [...(existsSync(DEBIAN_KEYRING) ? [DEBIAN_KEYRING] : []), ...trusted];
}

const noInRelease =
  "a mirror without InRelease files gives no Release date: set debian.sourceDateEpoch (or SOURCE_DATE_EPOCH)";

/** Rejects with `onTimeout()` when `work` has not settled within `ms`. */
async function withTimeout<T>(work: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** A `file:` mirror's InRelease: a regular file (no FIFO, no device), capped, read within the timeout. */
async function readLocal(url: string, timeoutMs: number): Promise<Buffer> {
  let path: string;
  try {
    path = fileURLToPath(url);
  } catch (e) {
    throw new InputError(`debian.mirror: ${url} is not a local file URL (${(e as Error).message})`, {
      hint: "write a local mirror as file:///path/to/mirror (no host), or use an http(s) mirror",
    });
  }
  const failed = (why: string) =>
    new IoError(`cannot read ${url}: ${why}`, {
      hint: "a local mirror's InRelease must be a regular file of at most 16 MiB; or set debian.sourceDateEpoch (or SOURCE_DATE_EPOCH)",
    });
  const text = await withTimeout(
    readRegularFile(path, MAX_RELEASE_BYTES).catch((e: NodeJS.ErrnoException) => {
      if (e.code === "ENOENT") throw new InputError(`${url}: no such file`, { hint: noInRelease });
      throw failed(e.code ?? e.message);
    }),
    timeoutMs,
    () => failed(`no answer within ${timeoutMs / 1000} s`),
  );
  return Buffer.from(text, "utf8");
}

async function download(url: string, timeoutMs: number, signal?: AbortSignal): Promise<Buffer> {
  if (url.startsWith("file:")) return readLocal(url, timeoutMs);
  if (!/^https?:\/\//.test(url))
    throw new InputError(`${url}: only http, https and file mirrors give a Release date`, {
      hint: "set debian.sourceDateEpoch (or SOURCE_DATE_EPOCH) for this mirror",
    });
  const fetchFailed = (e: unknown) =>
    new ToolError(
      `cannot fetch ${url}: ${(e as Error).name === "TimeoutError" ? `no complete answer within ${timeoutMs / 1000} s` : (e as Error).message}`,
      { command: `GET ${url}`, exitStatus: null },
      { hint: "check the network and the mirror, or set debian.sourceDateEpoch (or SOURCE_DATE_EPOCH)" },
    );
  // the timeout covers the whole answer, the body included: a mirror that stalls must not hang the build
  const timeout = AbortSignal.timeout(timeoutMs);
  let res: Response;
  try {
    res = await fetch(url, { signal: signal ? AbortSignal.any([signal, timeout]) : timeout });
  } catch (e) {
    throw fetchFailed(e);
  }
  if (!res.ok)
    throw new ToolError(
      `${url}: HTTP ${res.status}`,
      { command: `GET ${url}`, exitStatus: null },
      { hint: noInRelease },
    );
  // read with a cap: a mirror's answer is input, and one that never ends must not fill the memory
  const chunks: Buffer[] = [];
  let size = 0;
  const reader = res.body?.getReader();
  for (;;) {
    let next: ReadableStreamReadResult<Uint8Array>;
    try {
      next = reader ? await reader.read() : { done: true, value: undefined };
    } catch (e) {
      // a timeout or a reset connection while the body is read
      throw fetchFailed(e);
    }
    if (next.done) break;
    size += next.value.length;
    if (size > MAX_RELEASE_BYTES) {
      await reader?.cancel();
      throw new ValidationError(`${url}: more than ${MAX_RELEASE_BYTES} bytes, not a Release file`);
    }
    chunks.push(Buffer.from(next.value));
  }
  return Buffer.concat(chunks);
}

/**
 * gpgv over a clear-signed InRelease with the given keyrings: the text the signature covers (gpgv
 * ignores whatever is before or after the signed part, so only this text may be read); throws when
 * the signature is not good.
 */
async function verifiedText(
  file: string,
  url: string,
  keyrings: readonly string[],
  signal?: AbortSignal,
): Promise<string> {
  if (keyrings.length === 0)
    throw new ValidationError(`${url}: no keyring to verify it with`, {
      hint: "install debian-archive-keyring, or set debian.sourceDateEpoch (or SOURCE_DATE_EPOCH)",
    });
  try {
    const r = await run("gpgv", ["--output", "-", ...keyrings.flatMap((k) => ["--keyring", k]), file], {
      timeoutMs: 30_000,
      ...(signal ? { signal } : {}),
    });
    return r.stdout;
  } catch (e) {
    if (e instanceof ToolError && e.exitStatus !== null)
      throw new ValidationError(`${url}: its signature does not verify with ${keyrings.join(", ")}`, {
        details: e.stderrTail
          .split("\n")
          .filter((l) => l.trim())
          .slice(-5),
        hint: "a mirror that serves a forged or unsigned InRelease is not used: check the mirror, or set debian.sourceDateEpoch",
      });
    throw e;
  }
}

/** The newest verified Release Date of the build's suites. */
export async function suitesReleaseDate(o: ReleaseDateOptions): Promise<SourceDateEpoch> {
  try {
    return await releaseDate(o);
  } catch (e) {
    const fix = o.epochFix;
    if (fix && isCompatError(e) && e.hint?.includes(DEBIAN_EPOCH_FIX))
      (e as { hint: string }).hint = e.hint.replace(DEBIAN_EPOCH_FIX, fix);
    else if (fix && isCompatError(e) && e.hint?.includes("debian.sourceDateEpoch"))
      (e as { hint: string }).hint = e.hint.replace("set debian.sourceDateEpoch", fix);
    throw e;
  }
}

async function releaseDate(o: ReleaseDateOptions): Promise<SourceDateEpoch> {
  const sources = parseDeb822Sources(
    debianSources({ ...o.settings, suite: debianSuiteFor(o.settings, o.arch) }, o.hostSources),
    "the build's apt sources",
  );
  const fallback = o.defaultKeyrings ?? defaultKeyrings();
  const scratch = await mkdtemp(join(tmpdir(), "compat-release-"));
  const dates: Array<{ suite: string; epoch: number }> = [];
  try {
    // one URI per stanza is enough: apt treats several as mirrors of the same archive
    const wanted = sources.flatMap((s) => s.suites.map((suite) => ({ source: s, suite, uri: s.uris[0]! })));
    for (const [i, { source, suite, uri }] of wanted.entries()) {
      const url = inReleaseUrl(uri, suite);
      const body = await download(url, o.timeoutMs ?? FETCH_TIMEOUT_MS, o.signal);
      const file = join(scratch, `${i}.InRelease`);
      await writeFile(file, body);
      const keyrings = source.signedBy && !source.signedBy.includes("\n") ? [source.signedBy] : fallback;
      const epoch = releaseFileDate(await verifiedText(file, url, keyrings, o.signal));
      if (epoch === undefined)
        throw new ValidationError(`${url}: no readable Date field`, {
          hint: "set debian.sourceDateEpoch (or SOURCE_DATE_EPOCH)",
        });
      o.logTo?.write(`${url}: Date ${new Date(epoch * 1000).toISOString()} (${epoch}), signature good\n`);
      dates.push({ suite, epoch });
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  if (dates.length === 0)
    throw new InputError("the build has no apt sources to take a Release date from", {
      hint: "set debian.sourceDateEpoch (or SOURCE_DATE_EPOCH)",
    });
  return {
    epoch: Math.max(...dates.map((d) => d.epoch)),
    from: `the Release files of ${[...new Set(dates.map((d) => d.suite))].join(", ")}`,
  };
}
