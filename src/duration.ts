/** Durations as the configuration and API write them: `250ms`, `5s`, `5m`, `2h`, `1d`. */
const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;

export function parseDuration(text: string): number {
  const match = DURATION.exec(text.trim());
  if (!match) throw new Error(`"${text}" is not a duration (write e.g. 250ms, 5s, 5m, 2h, 1d)`);
  return Math.round(Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS]);
}

export function parseDurationList(text: string): number[] {
  const parts = text.split(',').map((part) => part.trim()).filter((part) => part.length > 0);
  return parts.map(parseDuration);
}

/** The shortest exact spelling of a duration: 300000 → `5m`, 1500 → `1500ms`. */
export function formatDuration(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    if (ms >= UNIT_MS[unit] && ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`;
  }
  return `${ms}ms`;
}
