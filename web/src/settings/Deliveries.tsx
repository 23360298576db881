import { useCallback, useEffect, useId, useState } from "react";
import { ChevronRight, RefreshCw } from "lucide-react";
import * as api from "../api/client";
import type { Delivery } from "../types";
import { Badge, type Tone } from "./Badge";
import { breakable } from "./breakable";
import { formatTime, Time } from "./Time";

interface Props {
  endpointId: string;
  url: string;
  /** Changes after a test was sent, so an open list shows it. */
  refreshKey: number;
}

const STATES: Record<Delivery["state"], [label: string, tone: Tone]> = {
  pending: ["Pending", "muted"],
  retrying: ["Retrying", "muted"],
  delivered: ["Delivered", "ok"],
  failed: ["Failed", "danger"],
};

// A delivery about to change (not tried yet, or retried within the minute) is looked at
// again this often while the list is open, so a test send is seen to arrive.
const FOLLOW_MS = 3000;
const changingSoon = (d: Delivery) =>
  d.state === "pending" || (d.state === "retrying" && d.next_attempt_at !== null && Date.parse(d.next_attempt_at) - Date.now() < 60_000);

/** An endpoint's last 20 deliveries, loaded when the reader opens them. */
export function Deliveries({ endpointId, url, refreshKey }: Props) {
  const [open, setOpen] = useState(false);
  const [items, setItems] = useState<Delivery[] | null>(null);
  const [error, setError] = useState("");
  const [status, setStatus] = useState("");
  const listId = useId();

  const load = useCallback(async () => {
    try {
      setItems(await api.listDeliveries(endpointId));
      setError("");
    } catch (failure) {
      setError(api.failureText(failure, "The deliveries could not be loaded."));
    }
  }, [endpointId]);

  useEffect(() => {
    if (open) void load();
  }, [open, refreshKey, load]);

  useEffect(() => {
    if (!open || !items?.some(changingSoon)) return;
    const timer = window.setTimeout(() => void load(), FOLLOW_MS);
    return () => window.clearTimeout(timer);
  }, [open, items, load]);

  const resend = async (delivery: Delivery) => {
    try {
      await api.resendDelivery(delivery.id);
      setStatus(`${delivery.event_type} was sent again as a new delivery.`);
      await load();
    } catch (failure) {
      setError(api.failureText(failure, "The delivery was not sent again. Try again."));
    }
  };

  return (
    <div className="deliveries">
      <div className="deliveries-bar">
        <button
          type="button"
          className="disclosure"
          aria-expanded={open}
          aria-controls={listId}
          aria-label={`Recent deliveries to ${url}`}
          onClick={() => setOpen(!open)}
        >
          <ChevronRight size={16} aria-hidden="true" className="disclosure-icon" />
          Recent deliveries
        </button>
        {open && (
          <button type="button" className="icon-button" aria-label={`Reload the deliveries to ${url}`} title="Reload" onClick={() => void load()}>
            <RefreshCw size={14} />
          </button>
        )}
      </div>
      <div id={listId} hidden={!open}>
        {error && (
          <p className="form-error" role="alert">
            {error}
          </p>
        )}
        {items === null ? (
          !error && <p className="hint">Loading…</p>
        ) : items.length === 0 ? (
          <p className="hint">Nothing sent yet. Send a test to see a delivery here.</p>
        ) : (
          <ul className="delivery-list" aria-label="Recent deliveries">
            {items.map((delivery) => (
              <DeliveryItem key={delivery.id} delivery={delivery} onResend={resend} />
            ))}
          </ul>
        )}
        <p className="visually-hidden" role="status">
          {status}
        </p>
      </div>
    </div>
  );
}

const attempts = (n: number) => (n === 0 ? "Not tried yet" : n === 1 ? "1 attempt" : `${n} attempts`);
const duration = (ms: number) => (ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`);

function DeliveryItem({ delivery, onResend }: { delivery: Delivery; onResend(delivery: Delivery): void }) {
  const [label, tone] = STATES[delivery.state];
  const last = delivery.last_attempt;
  return (
    <li className="delivery">
      <div className="delivery-row">
        <div className="delivery-what">
          <code className="delivery-type">{breakable(delivery.event_type)}</code>
          <Badge tone={tone}>{label}</Badge>
        </div>
        <button
          type="button"
          className="delivery-resend"
          aria-label={`Resend ${delivery.event_type} of ${formatTime(delivery.created_at)}`}
          onClick={() => onResend(delivery)}
        >
          Resend
        </button>
        <p className="delivery-facts">
          <span>{attempts(delivery.attempts)}</span>
          {last && <span>{last.status_code === null ? "No answer" : `HTTP ${last.status_code}`}</span>}
          {last && <span>{duration(last.latency_ms)}</span>}
          <Time iso={delivery.created_at} />
        </p>
      </div>
      {delivery.state === "retrying" && delivery.next_attempt_at && (
        <p className="hint delivery-next">
          {Date.parse(delivery.next_attempt_at) > Date.now() ? (
            <>
              Next attempt <Time iso={delivery.next_attempt_at} />
            </>
          ) : (
            "Next attempt any moment now"
          )}
        </p>
      )}
      {last && (last.error || last.excerpt) && (
        <details className="delivery-response">
          <summary>Response</summary>
          {last.error && <p className="form-error">{last.error}</p>}
          {/* Text, never markup: the receiver wrote it. */}
          {last.excerpt && <pre>{last.excerpt}</pre>}
        </details>
      )}
    </li>
  );
}
