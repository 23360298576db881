const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
const absolute = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ["year", 365 * 86400],
  ["month", 30 * 86400],
  ["day", 86400],
  ["hour", 3600],
  ["minute", 60],
];

/** "May 4, 2026, 10:12 AM", in the reader's locale. */
export function formatTime(iso: string): string {
  return absolute.format(new Date(iso));
}

/** "3 minutes ago" or "in 2 hours", with the exact time on hover. */
export function Time({ iso }: { iso: string }) {
  const seconds = (Date.parse(iso) - Date.now()) / 1000;
  const [unit, size] = UNITS.find(([, length]) => Math.abs(seconds) >= length) ?? ["second", 1];
  return (
    <time dateTime={iso} title={formatTime(iso)}>
      {relative.format(Math.round(seconds / size), unit)}
    </time>
  );
}
