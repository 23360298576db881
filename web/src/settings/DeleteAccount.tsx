import { useId, useRef, useState, type FormEvent } from "react";
import * as api from "../api/client";

interface Props {
  /** The account is gone and the session with it. */
  onDeleted(): void;
}

/** Settings → General's danger zone: deleting the account, confirmed with the password. */
export function DeleteAccount({ onDeleted }: Props) {
  const [asking, setAsking] = useState(false);
  const [password, setPassword] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const passwordRef = useRef<HTMLInputElement>(null);
  const openRef = useRef<HTMLButtonElement>(null);
  const ids = useId();

  const cancel = () => {
    setAsking(false);
    setPassword("");
    setError("");
    // The button that opened the form comes back; focus goes where it was.
    requestAnimationFrame(() => openRef.current?.focus());
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!password || busy) return;
    setBusy(true);
    setError("");
    try {
      await api.deleteAccount(password);
      onDeleted();
    } catch (failure) {
      setBusy(false);
      setError(api.failureText(failure, "Your account was not deleted. Try again."));
      passwordRef.current?.focus();
    }
  };

  return (
    <section className="danger-zone" aria-labelledby={`${ids}-title`}>
      <h3 id={`${ids}-title`}>Delete account</h3>
      <p className="hint" id={`${ids}-what`}>
        Deletes your account and everything in it: all your conversations, shared links, API keys,
        webhooks and integrations, and exports. This cannot be undone.
      </p>
      {asking ? (
        <form className="danger-zone-form" onSubmit={submit} aria-describedby={`${ids}-what`}>
          <label>
            Your password
            <input
              ref={passwordRef}
              type="password"
              autoComplete="current-password"
              maxLength={1024}
              autoFocus
              value={password}
              aria-invalid={error ? true : undefined}
              aria-describedby={error ? `${ids}-error` : undefined}
              onChange={(e) => setPassword(e.target.value)}
            />
          </label>
          {error && (
            <p className="form-error" role="alert" id={`${ids}-error`}>
              {error}
            </p>
          )}
          <div className="danger-zone-actions">
            <button type="button" onClick={cancel} disabled={busy}>
              Cancel
            </button>
            <button type="submit" className="danger-primary" disabled={!password || busy}>
              {busy ? "Deleting…" : "Delete my account forever"}
            </button>
          </div>
        </form>
      ) : (
        <button ref={openRef} type="button" className="danger-button" onClick={() => setAsking(true)}>
          Delete account…
        </button>
      )}
    </section>
  );
}
