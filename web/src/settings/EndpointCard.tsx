import { useId, useState } from "react";
import * as api from "../api/client";
import type { Endpoint, EndpointState, RotatedSecret, WebhookEventType } from "../types";
import { ConfirmButton } from "../ui/ConfirmButton";
import { Badge, type Tone } from "./Badge";
import { breakable } from "./breakable";
import { Deliveries } from "./Deliveries";
import { EndpointForm } from "./EndpointForm";
import { SecretReveal } from "./SecretReveal";
import { formatTime, Time } from "./Time";

interface Props {
  endpoint: Endpoint;
  eventTypes: WebhookEventType[];
  onChanged(endpoint: Endpoint): void;
  onDeleted(endpointId: string): void;
}

const STATES: Record<EndpointState, [label: string, tone: Tone, toggle: string]> = {
  active: ["Active", "ok", "Pause"],
  paused: ["Paused", "muted", "Resume"],
  disabled: ["Disabled", "danger", "Re-enable"],
};

// How long chatfn keeps signing with the old secret too, so receivers can switch without losing a delivery.
const OVERLAPS: [hours: number, label: string][] = [
  [0, "no time: the old secret stops now"],
  [1, "1 hour"],
  [24, "24 hours"],
  [72, "3 days"],
  [168, "7 days"],
];

function rotationNote(rotated: RotatedSecret): string {
  return rotated.previous_valid_until
    ? `Deliveries are signed with the old secret as well until ${formatTime(rotated.previous_valid_until)}.`
    : "The old secret no longer works.";
}

/** One endpoint: what it receives, its state, what can be done with it, and its recent deliveries. */
export function EndpointCard({ endpoint, eventTypes, onChanged, onDeleted }: Props) {
  const [panel, setPanel] = useState<"edit" | "rotate" | null>(null);
  const [overlap, setOverlap] = useState(24);
  const [rotated, setRotated] = useState<RotatedSecret | null>(null);
  const [status, setStatus] = useState("");
  const [error, setError] = useState("");
  const [testsSent, setTestsSent] = useState(0);
  const headingId = useId();
  const [label, tone, toggle] = STATES[endpoint.state];
  const named = (action: string) => `${action} ${endpoint.url}`;

  /** Runs one action; what it returns is the news to show. */
  const act = async (work: () => Promise<string>, failed: string) => {
    setStatus("");
    setError("");
    try {
      setStatus(await work());
    } catch (failure) {
      setError(api.failureText(failure, failed));
    }
  };

  const save = async (fields: api.EndpointFields) => {
    onChanged(await api.updateEndpoint(endpoint.id, fields));
    setPanel(null);
    setStatus("Changes saved.");
  };
  const pauseOrResume = () =>
    act(async () => {
      const updated = await api.updateEndpoint(endpoint.id, { paused: endpoint.state === "active" });
      onChanged(updated);
      return updated.state === "paused" ? "Paused: nothing is sent until you resume it." : "Resumed: new events will be sent.";
    }, "The endpoint's state was not changed. Try again.");
  const sendTest = () =>
    act(async () => {
      await api.testEndpoint(endpoint.id);
      setTestsSent((n) => n + 1);
      return "A test event is on its way: see Recent deliveries.";
    }, "The test event was not sent. Try again.");
  const rotate = () =>
    act(async () => {
      setRotated(await api.rotateEndpointSecret(endpoint.id, overlap));
      setPanel(null);
      return "";
    }, "The secret was not rotated. Try again.");
  const remove = () =>
    act(async () => {
      await api.deleteEndpoint(endpoint.id);
      onDeleted(endpoint.id);
      return "";
    }, "The endpoint was not deleted. Try again.");

  return (
    <li className={`endpoint endpoint-${endpoint.state}`} aria-labelledby={headingId}>
      <div className="endpoint-head">
        <h4 id={headingId} className="endpoint-url" aria-label={endpoint.url}>
          {breakable(endpoint.url)}
        </h4>
        <Badge tone={tone}>{label}</Badge>
      </div>
      {endpoint.description && <p className="endpoint-description">{endpoint.description}</p>}
      {endpoint.state === "disabled" && (
        <p className="endpoint-reason">
          {endpoint.disabled_reason ?? "Stopped after repeated failures."} Fix the receiver, then re-enable it.
        </p>
      )}
      <ul className="chips" aria-label="Events">
        {endpoint.event_types.map((type) => (
          <li key={type} className="chip">
            {type}
          </li>
        ))}
      </ul>
      <p className="endpoint-meta">
        Added <Time iso={endpoint.created_at} />
        {endpoint.secret_rotated_at && (
          <>
            {" · "}secret rotated <Time iso={endpoint.secret_rotated_at} />
          </>
        )}
      </p>
      <div className="endpoint-actions">
        <button type="button" aria-label={named("Edit")} aria-expanded={panel === "edit"} onClick={() => setPanel(panel === "edit" ? null : "edit")}>
          Edit
        </button>
        <button type="button" aria-label={named(toggle)} onClick={() => void pauseOrResume()}>
          {toggle}
        </button>
        <button type="button" aria-label={named("Send test to")} onClick={() => void sendTest()}>
          Send test
        </button>
        <button
          type="button"
          aria-label={named("Rotate secret of")}
          aria-expanded={panel === "rotate"}
          onClick={() => setPanel(panel === "rotate" ? null : "rotate")}
        >
          Rotate secret
        </button>
        <ConfirmButton label="Delete" confirmLabel="Confirm delete" subject={endpoint.url} onConfirm={() => void remove()} />
      </div>
      <p className="endpoint-status" role="status">
        {status}
      </p>
      {error && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
      {panel === "edit" && (
        <EndpointForm eventTypes={eventTypes} initial={endpoint} submitLabel="Save changes" onSubmit={save} onCancel={() => setPanel(null)} />
      )}
      {panel === "rotate" && (
        <div className="rotate-panel" role="group" aria-label={named("Rotate the signing secret of")}>
          <p>A new secret signs every delivery from now on. Keep the old one working for a while so your receiver can switch without missing a delivery.</p>
          <label>
            Keep signing with the old secret too for
            <select value={overlap} onChange={(e) => setOverlap(Number(e.target.value))}>
              {OVERLAPS.map(([hours, text]) => (
                <option key={hours} value={hours}>
                  {text}
                </option>
              ))}
            </select>
          </label>
          <div className="form-actions">
            <button type="button" onClick={() => setPanel(null)}>
              Cancel
            </button>
            <button type="button" className="primary" onClick={() => void rotate()}>
              Rotate secret
            </button>
          </div>
        </div>
      )}
      {rotated && <SecretReveal title="New signing secret" secret={rotated.secret} note={rotationNote(rotated)} onDone={() => setRotated(null)} />}
      <Deliveries endpointId={endpoint.id} url={endpoint.url} refreshKey={testsSent} />
    </li>
  );
}
