import { Check, Copy } from "lucide-react";
import { useCopy } from "./useCopy";

interface Props {
  text: string;
  /** Its accessible name, which says what is copied ("Copy the signing secret"). */
  label: string;
  className?: string;
  /** Words only, no icon (in a code block's corner). */
  plain?: boolean;
}

/** Copies `text`, says so for a moment, and tells screen readers. */
export function CopyButton({ text, label, className = "copy-button", plain = false }: Props) {
  const [copied, copy] = useCopy();
  const Icon = copied ? Check : Copy;
  return (
    <>
      <button type="button" className={className} aria-label={label} onClick={() => copy(text)}>
        {!plain && <Icon size={16} aria-hidden="true" />}
        {copied ? "Copied" : "Copy"}
      </button>
      <span className="visually-hidden" role="status">
        {copied ? "Copied" : ""}
      </span>
    </>
  );
}
