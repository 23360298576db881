import { useId, useState, type FormEvent } from "react";
import { useChosen } from "../ui/useChosen";
import * as api from "../api/client";
import type { ApiKeyScope } from "../types";

interface Props {
  onSubmit(fields: api.ApiKeyFields): Promise<void>;
  onCancel(): void;
}

/** The scopes a key can have: what each lets it do, and where. */
export const SCOPES: { value: ApiKeyScope; label: string; call: string }[] = [
  { value: "chat", label: "Chat", call: "POST /v1/chat/completions" },
  { value: "history:read", label: "Read history", call: "GET /api/conversations" },
];

const EXPIRIES: [days: number | null, label: string][] = [
  [null, "Never"],
  [30, "In 30 days"],
  [90, "In 90 days"],
  [365, "In a year"],
];

/** A limit typed in, or null when left empty. */
function limit(text: string): number | null {
  return text.trim() === "" ? null : Number(text);
}

/** Creates a key: its name, what it may do, for how long, and any limits of its own. */
export function ApiKeyForm({ onSubmit, onCancel }: Props) {
  const [name, setName] = useState("");
  const [scopes, toggle] = useChosen<ApiKeyScope>(["chat"]);
  const [expiry, setExpiry] = useState("90");
  const [store, setStore] = useState(false);
  const [budget, setBudget] = useState("");
  const [perMinute, setPerMinute] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const ids = useId();

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError("");
    if (scopes.size === 0) {
      setError("Choose at least one thing the key may do.");
      return;
    }
    setBusy(true);
    try {
      await onSubmit({
        name: name.trim(),
        scopes: SCOPES.map((s) => s.value).filter((scope) => scopes.has(scope)),
        expires_in_days: expiry === "" ? null : Number(expiry),
        store,
        daily_token_budget: limit(budget),
        requests_per_minute: limit(perMinute),
      });
    } catch (failure) {
      setError(api.failureText(failure, "The key was not created. Try again."));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="settings endpoint-new api-key-form" aria-labelledby={`${ids}-title`} onSubmit={submit}>
      <h4 id={`${ids}-title`}>New key</h4>
      <label>
        Key name
        <input required autoFocus maxLength={100} placeholder="Laptop script, nightly report…" value={name} onChange={(e) => setName(e.target.value)} />
      </label>
      <fieldset className="event-choice">
        <legend>What it may do</legend>
        {SCOPES.map((scope) => (
          <label key={scope.value} className="checkbox">
            <input type="checkbox" checked={scopes.has(scope.value)} onChange={(e) => toggle(scope.value, e.target.checked)} />
            <span>
              {scope.label}
              <code className="hint">{scope.call}</code>
            </span>
          </label>
        ))}
      </fieldset>
      <label className="checkbox">
        <input type="checkbox" checked={store} onChange={(e) => setStore(e.target.checked)} />
        <span>
          Keep completions in my history
          <span className="hint">Each completion made with this key becomes a chat in your sidebar.</span>
        </span>
      </label>
      <div className="api-key-fields">
        <label>
          Expires
          <select value={expiry} onChange={(e) => setExpiry(e.target.value)}>
            {EXPIRIES.map(([days, label]) => (
              <option key={label} value={days ?? ""}>
                {label}
              </option>
            ))}
          </select>
        </label>
        <label>
          Daily token budget
          <input type="number" inputMode="numeric" min={1} step={1} placeholder="Optional" value={budget} onChange={(e) => setBudget(e.target.value)} aria-describedby={`${ids}-limits`} />
        </label>
        <label>
          Requests per minute
          <input type="number" inputMode="numeric" min={1} step={1} placeholder="Optional" value={perMinute} onChange={(e) => setPerMinute(e.target.value)} aria-describedby={`${ids}-limits`} />
        </label>
      </div>
      <p id={`${ids}-limits`} className="hint api-key-limits-hint">
        Empty: no budget of its own, and the usual rate for keys. A key never gets more than your account: its use counts towards
        your limits too.
      </p>
      {error && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
      <div className="form-actions">
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
        <button type="submit" className="primary" disabled={busy || !name.trim()}>
          Create key
        </button>
      </div>
    </form>
  );
}
