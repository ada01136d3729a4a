/**
 * The one logger. Human-readable lines on stderr (stdout is reserved for results and --json),
 * colour only when stderr is a TTY and NO_COLOR is unset.
 */
export type LogLevel = "debug" | "info" | "warn" | "error";

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

const useColour = (): boolean => Boolean(process.stderr.isTTY) && !process.env.NO_COLOR;

const COLOURS: Record<LogLevel, string> = { debug: "\x1b[2m", info: "", warn: "\x1b[33m", error: "\x1b[31m" };

export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

let threshold: LogLevel = (process.env.COMPAT_LOG_LEVEL as LogLevel | undefined) ?? "info";

export function setLogLevel(level: LogLevel): void {
  threshold = level;
}

export function getLogLevel(): LogLevel {
  return threshold;
}

function emit(level: LogLevel, msg: string): void {
  if (ORDER[level] < ORDER[threshold]) return;
  const prefix = level === "info" ? "" : `${level}: `;
  const line = `${prefix}${msg}`;
  if (useColour() && COLOURS[level]) process.stderr.write(`${COLOURS[level]}${line}\x1b[0m\n`);
  else process.stderr.write(`${line}\n`);
}

export const log: Logger = {
  debug: (m) => emit("debug", m),
  info: (m) => emit("info", m),
  warn: (m) => emit("warn", m),
  error: (m) => emit("error", m),
};
