import { useId, useState, type FormEvent } from "react";
import * as api from "../api/client";

interface Props {
  onSubmit(name: string): Promise<void>;
  onCancel(): void;
}

/** Names a new integration: one field, since chatfn makes its URL and secret. */
export function IntegrationForm({ onSubmit, onCancel }: Props) {
  const [name, setName] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const ids = useId();

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError("");
    setBusy(true);
    try {
      await onSubmit(name.trim());
    } catch (failure) {
      setError(api.failureText(failure, "The integration was not added. Try again."));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="endpoint-new integration-form" aria-labelledby={`${ids}-title`} onSubmit={submit}>
      <h4 id={`${ids}-title`}>New integration</h4>
      <div className="integration-form-row">
        <label>
          Integration name
          <input
            required
            autoFocus
            maxLength={100}
            placeholder="Helpdesk, Slack bot…"
            value={name}
            onChange={(e) => setName(e.target.value)}
            aria-invalid={error ? true : undefined}
            aria-describedby={error ? `${ids}-error` : `${ids}-hint`}
          />
        </label>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
        <button type="submit" className="primary" disabled={busy || !name.trim()}>
          Add integration
        </button>
      </div>
      {error ? (
        <p id={`${ids}-error`} className="form-error" role="alert">
          {error}
        </p>
      ) : (
        <p id={`${ids}-hint`} className="hint">
          For you to tell them apart. chatfn makes its URL and signing secret.
        </p>
      )}
    </form>
  );
}
