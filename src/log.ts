/**
 * The one logger. Human-readable lines on stderr (stdout is reserved for results and --json),
 * colour only when stderr is a TTY and NO_COLOR is unset.
 */
import { type Paint, paint, printableText } from "./text.js";

export type LogLevel = "debug" | "info" | "warn" | "error";

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

const COLOURS: Record<LogLevel, Paint | undefined> = {
  debug: "dim",
  info: undefined,
  warn: "yellow",
  error: "red",
};

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
  const line = `${prefix}${printableText(msg)}`;
  const colour = COLOURS[level];
  process.stderr.write(`${colour ? paint(line, colour, process.stderr) : line}\n`);
}

export const log: Logger = {
  debug: (m) => emit("debug", m),
  info: (m) => emit("info", m),
  warn: (m) => emit("warn", m),
  error: (m) => emit("error", m),
};
