import { useId } from "react";
import { Check, Copy } from "lucide-react";
import { useCopy } from "../ui/useCopy";

interface Props {
  title: string;
  secret: string;
  /** More to know, such as until when the old secret still works. */
  note?: string;
  onDone(): void;
}

/** A signing secret, shown this once: the API never gives it out again. */
export function SecretReveal({ title, secret, note, onDone }: Props) {
  const [copied, copy] = useCopy();
  const id = useId();
  return (
    <section className="secret-reveal" aria-labelledby={`${id}-title`}>
      <h4 id={`${id}-title`}>{title}</h4>
      <label htmlFor={`${id}-secret`}>Signing secret</label>
      <div className="secret-field">
        <input
          id={`${id}-secret`}
          readOnly
          autoFocus
          spellCheck={false}
          autoComplete="off"
          value={secret}
          onFocus={(e) => e.target.select()}
        />
        <button type="button" aria-label="Copy the signing secret" onClick={() => copy(secret)}>
          {copied ? <Check size={16} aria-hidden="true" /> : <Copy size={16} aria-hidden="true" />}
          {copied ? "Copied" : "Copy"}
        </button>
        <span className="visually-hidden" role="status">
          {copied ? "Copied" : ""}
        </span>
      </div>
      <p className="secret-note">
        <strong>Copy it now: it will not be shown again.</strong> Your receiver needs it to check the signature of
        every delivery.{note && ` ${note}`}
      </p>
      <button type="button" className="secret-done" onClick={onDone}>
        Done
      </button>
    </section>
  );
}
