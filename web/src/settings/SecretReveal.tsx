import { useId } from "react";
import { CopyButton } from "../ui/CopyButton";

interface Props {
  title: string;
  secret: string;
  /** What the secret is called, in the middle of a sentence. */
  noun?: string;
  /** What the secret is for; by default, what an endpoint's receiver does with it. */
  use?: string;
  /** More to know, such as until when the old secret still works. */
  note?: string;
  onDone(): void;
}

const RECEIVER_USE = "Your receiver needs it to check the signature of every delivery.";

/** A secret (a signing secret, an API key), shown this once: the API never gives it out again. */
export function SecretReveal({ title, secret, noun = "signing secret", use = RECEIVER_USE, note, onDone }: Props) {
  const id = useId();
  return (
    <section className="secret-reveal" aria-labelledby={`${id}-title`}>
      <h4 id={`${id}-title`}>{title}</h4>
      <label htmlFor={`${id}-secret`}>{noun[0]!.toUpperCase() + noun.slice(1)}</label>
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
        <CopyButton text={secret} label={`Copy the ${noun}`} />
      </div>
      <p className="secret-note">
        <strong>Copy it now: it will not be shown again.</strong> {use}
        {note && ` ${note}`}
      </p>
      <button type="button" className="secret-done" onClick={onDone}>
        Done
      </button>
    </section>
  );
}
