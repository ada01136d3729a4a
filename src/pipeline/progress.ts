/**
 * Build progress: events for machines (`--json`: one JSON object per line on stdout, also kept in
 * the run's events.jsonl) and a display for people on stderr (the stage list with elapsed times;
 * a spinner on the running stage when stderr is a terminal, plain lines otherwise).
 */
import type { Writable } from "node:stream";

interface EventBase {
  time: string;
}

export type BuildEvent = EventBase &
  (
    | {
        event: "build-start";
        runId: string;
        runDir: string;
        resumed: boolean;
        flavor: string;
        arch: string;
        prefix: string;
        target: string;
        stages: Array<{ id: string; description: string; done: boolean }>;
      }
    | { event: "stage-start"; stage: string; index: number; total: number; description: string }
    | { event: "stage-note"; stage: string; message: string }
    | { event: "stage-skip"; stage: string; index: number; total: number; reason: string }
    | { event: "stage-end"; stage: string; index: number; total: number; durationMs: number }
    | {
        event: "stage-failed";
        stage: string;
        index: number;
        total: number;
        durationMs: number;
        error: string;
        log: string;
        logTail: string[];
      }
    | {
        event: "build-end";
        status: "success" | "failed" | "interrupted";
        runId: string;
        runDir: string;
        durationMs: number;
        layer?: string;
        previousLayer?: string;
      }
  );

/** A BuildEvent without its time, as the pipeline emits it. */
export type BuildEventInput = BuildEvent extends infer E
  ? E extends EventBase
    ? Omit<E, "time">
    : never
  : never;

export interface ProgressReporter {
  emit(event: BuildEvent): void;
  close(): void;
}

export class JsonEvents implements ProgressReporter {
  constructor(private readonly out: Writable = process.stdout) {}
  emit(event: BuildEvent): void {
    this.out.write(`${JSON.stringify(event)}\n`);
  }
  close(): void {}
}

const SPINNER = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

export function formatDuration(ms: number): string {
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const m = Math.floor(ms / 60_000);
  const s = Math.round((ms % 60_000) / 1000);
  return m < 60 ? `${m} min ${s} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** The display for people. On a TTY the running stage's line is redrawn with a spinner. */
export class HumanProgress implements ProgressReporter {
  private timer: NodeJS.Timeout | undefined;
  private current: { label: string; started: number; note: string } | undefined;
  private frame = 0;

  constructor(
    private readonly out: Writable & { isTTY?: boolean; columns?: number } = process.stderr,
    private readonly tty: boolean = Boolean(process.stderr.isTTY),
  ) {}

  emit(e: BuildEvent): void {
    const width = String(("total" in e && e.total) || 0).length;
    const label = (i: number, total: number, id: string) => `[${String(i).padStart(width)}/${total}] ${id}`;
    switch (e.event) {
      case "build-start": {
        const done = e.stages.filter((s) => s.done).length;
        this.line(
          `${e.resumed ? "Resuming" : "Building"} ${e.flavor} layer ${e.prefix} (${e.arch}), run ${e.runId}` +
            (e.resumed ? ` (${done} of ${e.stages.length} stages done before)` : ""),
        );
        this.line(`  run directory: ${e.runDir}`);
        this.line(`  stages: ${e.stages.map((s) => (s.done ? `${s.id} (done)` : s.id)).join(" → ")}`);
        break;
      }
      case "stage-skip":
        this.line(`- ${label(e.index, e.total, e.stage)}  (${e.reason})`);
        break;
      case "stage-start":
        this.current = { label: label(e.index, e.total, e.stage), started: Date.now(), note: "" };
        if (this.tty) {
          this.draw();
          this.timer = setInterval(() => this.draw(), 100);
          this.timer.unref();
        } else this.line(`  ${this.current.label}: ${e.description}`);
        break;
      case "stage-note":
        if (this.current) {
          this.current.note = e.message;
          if (!this.tty) this.line(`  ${this.current.label}: ${e.message}`);
        }
        break;
      case "stage-end":
        this.stopSpinner();
        this.line(`✓ ${label(e.index, e.total, e.stage)}  ${formatDuration(e.durationMs)}`);
        break;
      case "stage-failed":
        this.stopSpinner();
        this.line(`✗ ${label(e.index, e.total, e.stage)}  failed after ${formatDuration(e.durationMs)}`);
        break;
      case "build-end":
        this.stopSpinner();
        if (e.status === "success") {
          this.line(`Layer built in ${formatDuration(e.durationMs)}: ${e.layer}`);
          if (e.previousLayer) this.line(`  the layer that was there before is kept as ${e.previousLayer}`);
        } else if (e.status === "interrupted") this.line(`Build interrupted; run ${e.runId} can be resumed`);
        break;
    }
  }

  close(): void {
    this.stopSpinner();
  }

  private draw(): void {
    if (!this.current) return;
    const elapsed = formatDuration(Date.now() - this.current.started);
    const spin = SPINNER[this.frame++ % SPINNER.length];
    let text = `${spin} ${this.current.label}  ${elapsed}${this.current.note ? `  ${this.current.note}` : ""}`;
    const cols = this.out.columns ?? 100;
    if (text.length > cols - 1) text = text.slice(0, cols - 1);
    this.out.write(`\r\x1b[K${text}`);
  }

  private stopSpinner(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.tty && this.current) this.out.write("\r\x1b[K");
    this.current = undefined;
  }

  private line(s: string): void {
    this.out.write(`${s}\n`);
  }
}
