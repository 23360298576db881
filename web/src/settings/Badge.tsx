import type { ReactNode } from "react";

export type Tone = "ok" | "muted" | "danger";

/** A state in a word (Active, Failed...), coloured by how much it needs the reader. */
export function Badge({ tone, children }: { tone: Tone; children: ReactNode }) {
  return <span className={`badge badge-${tone}`}>{children}</span>;
}
