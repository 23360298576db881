/** A file's size as people read it: "512 B", "12 KB", "3.4 MB" (binary units, as file managers count). */
export function humanSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const kilobytes = Math.round(bytes / 1024);
  if (kilobytes < 1024) return `${kilobytes} KB`;
  return `${(bytes / 2 ** 20).toFixed(1)} MB`;
}
