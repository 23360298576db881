import { useId, useRef, useState, type FormEvent } from "react";
import { useChosen } from "../ui/useChosen";
import * as api from "../api/client";
import type { WebhookEventType } from "../types";

interface Props {
  eventTypes: WebhookEventType[];
  initial?: api.EndpointFields;
  submitLabel: string;
  onSubmit(fields: api.EndpointFields): Promise<void>;
  onCancel(): void;
}

const BLANK: api.EndpointFields = { url: "", event_types: [], description: "" };

/** Adds or edits an endpoint. A 422 is the URL refused (https and public addresses only): its detail goes under the URL. */
export function EndpointForm({ eventTypes, initial = BLANK, submitLabel, onSubmit, onCancel }: Props) {
  const [url, setUrl] = useState(initial.url);
  const [description, setDescription] = useState(initial.description);
  const [chosen, toggle] = useChosen(initial.event_types);
  const [urlError, setUrlError] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const urlRef = useRef<HTMLInputElement>(null);
  const ids = useId();

  // A type the catalogue no longer lists stays on show while the endpoint has it, so it can be unticked.
  const retired = initial.event_types.filter((type) => !eventTypes.some((e) => e.type === type));
  const listed = [...eventTypes, ...retired.map((type) => ({ type, description: "", version: 0 }))];

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setUrlError("");
    setError("");
    if (chosen.size === 0) {
      setError("Choose at least one event to send.");
      return;
    }
    setBusy(true);
    try {
      await onSubmit({
        url: url.trim(),
        description: description.trim(),
        event_types: listed.map((e) => e.type).filter((type) => chosen.has(type)),
      });
    } catch (failure) {
      if (failure instanceof api.ApiError && failure.status === 422) {
        setUrlError(failure.detail || failure.title);
        urlRef.current?.focus();
      } else {
        setError(api.failureText(failure, "The endpoint was not saved. Try again."));
      }
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="settings endpoint-form" onSubmit={submit}>
      <label>
        Endpoint URL
        <input
          ref={urlRef}
          type="url"
          inputMode="url"
          required
          autoFocus
          placeholder="https://example.com/webhooks/chatfn"
          value={url}
          onChange={(e) => setUrl(e.target.value)}
          aria-invalid={urlError ? true : undefined}
          aria-describedby={urlError ? `${ids}-url-error` : undefined}
        />
      </label>
      {urlError && (
        <p id={`${ids}-url-error`} className="form-error field-error" role="alert">
          {urlError}
        </p>
      )}
      <label>
        <span>
          Description <span className="hint">(optional)</span>
        </span>
        <input maxLength={200} placeholder="Where these events go" value={description} onChange={(e) => setDescription(e.target.value)} />
      </label>
      <fieldset className="event-choice">
        <legend>Events to send</legend>
        {listed.length === 0 && <p className="hint">The list of events could not be loaded. Close Settings and try again.</p>}
        {listed.map((e) => (
          <label key={e.type} className="checkbox">
            <input type="checkbox" checked={chosen.has(e.type)} onChange={(change) => toggle(e.type, change.target.checked)} />
            <span>
              <code>{e.type}</code>
              {e.description && <span className="hint">{e.description}</span>}
            </span>
          </label>
        ))}
      </fieldset>
      {error && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
      <div className="form-actions">
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
        <button type="submit" className="primary" disabled={busy}>
          {submitLabel}
        </button>
      </div>
    </form>
  );
}
