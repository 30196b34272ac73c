/**
 * Progress for long runs on stderr: a bar on a terminal (done/total, images/s, ETA), a plain
 * line every few seconds otherwise (logs, CI), nothing with --quiet.
 */
import cliProgress from 'cli-progress';

export interface ProgressState {
  done: number;
  total: number;
  imagesPerSecond: number;
  etaSeconds: number | null;
  failed?: number;
}

export interface ProgressReporter {
  update(p: ProgressState): void;
  stop(): void;
}

function formatEta(s: number | null): string {
  if (s === null || !Number.isFinite(s)) return '--';
  if (s < 60) return `${Math.round(s)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.round((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** `unit` names what imagesPerSecond counts (default images; t-SNE reports iterations). */
export function progressReporter(label: string, options: { quiet?: boolean; intervalMs?: number; unit?: string } = {}): ProgressReporter {
  const unit = options.unit ?? 'images';
  const short = unit === 'images' ? 'img' : unit === 'iterations' ? 'it' : unit;
  if (options.quiet) return { update: () => undefined, stop: () => undefined };
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        format: `${label} |{bar}| {value}/{total} | {rate} ${short}/s | ETA {eta_h} | {failed} failed`,
        stream: process.stderr,
        hideCursor: true,
        clearOnComplete: false,
        etaBuffer: 64,
      },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return {
      update(p) {
        const payload = { rate: p.imagesPerSecond.toFixed(1), eta_h: formatEta(p.etaSeconds), failed: p.failed ?? 0 };
        if (!started) {
          bar.start(p.total, p.done, payload);
          started = true;
        } else bar.update(p.done, payload);
      },
      stop() {
        if (started) bar.stop();
      },
    };
  }
  const interval = options.intervalMs ?? 5000;
  let last = 0;
  let lastDone = -1;
  return {
    update(p) {
      const now = Date.now();
      if (now - last < interval && p.done < p.total) return;
      if (p.done === lastDone) return;
      last = now;
      lastDone = p.done;
      process.stderr.write(
        `${label}: ${p.done}/${p.total} ` +
          `(${p.imagesPerSecond.toFixed(1)} ${unit}/s, ETA ${formatEta(p.etaSeconds)}${p.failed ? `, ${p.failed} failed` : ''})\n`,
      );
    },
    stop: () => undefined,
  };
}
