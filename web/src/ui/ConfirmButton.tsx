import { useState } from "react";

interface Props {
  label: string;
  confirmLabel: string;
  /** What it acts on, for its accessible name ("Delete https://…"). */
  subject: string;
  onConfirm(): void;
}

/** A destructive button that asks once more: the first click only arms it, leaving it disarms it. */
export function ConfirmButton({ label, confirmLabel, subject, onConfirm }: Props) {
  const [armed, setArmed] = useState(false);
  return (
    <button
      type="button"
      className="danger-button"
      onClick={() => (armed ? onConfirm() : setArmed(true))}
      onBlur={() => setArmed(false)}
      aria-label={armed ? `${confirmLabel}: ${subject}` : `${label} ${subject}`}
    >
      {armed ? confirmLabel : label}
    </button>
  );
}
