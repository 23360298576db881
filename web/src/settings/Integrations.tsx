import { useEffect, useState } from "react";
import { TriangleAlert } from "lucide-react";
import * as api from "../api/client";
import type { Endpoint, WebhookEventType } from "../types";
import { EndpointCard } from "./EndpointCard";
import { EndpointForm } from "./EndpointForm";
import { InboundIntegrations } from "./InboundIntegrations";
import { SecretReveal } from "./SecretReveal";
import { SectionHead } from "./SectionHead";
import { disabledCount } from "./useDisabledEndpoints";

interface Props {
  /** Each new list, so the app's warning dot follows what happens here. */
  onEndpoints(endpoints: Endpoint[]): void;
}

/** Outbound webhooks (the user's endpoints, a form to add one, a warning when chatfn disabled one), then inbound integrations. */
export function Integrations({ onEndpoints }: Props) {
  const [endpoints, setEndpoints] = useState<Endpoint[] | null>(null);
  const [eventTypes, setEventTypes] = useState<WebhookEventType[]>([]);
  const [error, setError] = useState("");
  const [adding, setAdding] = useState(false);
  const [created, setCreated] = useState<{ url: string; secret: string } | null>(null);

  useEffect(() => {
    void api.listEndpoints().then(setEndpoints, (failure) => setError(api.failureText(failure, "Your endpoints could not be loaded.")));
    void api.webhookEventTypes().then(setEventTypes, () => setEventTypes([]));
  }, []);

  useEffect(() => {
    if (endpoints) onEndpoints(endpoints);
  }, [endpoints, onEndpoints]);

  const create = async (fields: api.EndpointFields) => {
    const { secret, ...endpoint } = await api.createEndpoint(fields);
    setEndpoints((shown) => [...(shown ?? []), endpoint]);
    setAdding(false);
    setCreated({ url: endpoint.url, secret });
  };
  const changed = (endpoint: Endpoint) => setEndpoints((shown) => shown?.map((e) => (e.id === endpoint.id ? endpoint : e)) ?? null);
  const deleted = (endpointId: string) => setEndpoints((shown) => shown?.filter((e) => e.id !== endpointId) ?? null);

  const disabled = endpoints ? disabledCount(endpoints) : 0;
  return (
    <div className="integrations">
      <SectionHead
        title="Webhooks"
        hint="chatfn posts the events you choose to your endpoints as they happen, signed the Standard Webhooks way."
        addLabel="Add endpoint"
        adding={adding}
        onAdd={() => setAdding(true)}
      />
      {disabled > 0 && (
        <div className="notice notice-danger" role="alert">
          <TriangleAlert size={18} aria-hidden="true" />
          <p>
            <strong>
              {disabled === 1 ? "1 endpoint was" : `${disabled} endpoints were`} disabled after repeated failures.
            </strong>{" "}
            Nothing is sent to {disabled === 1 ? "it" : "them"} until you fix the receiver and re-enable{" "}
            {disabled === 1 ? "it" : "them"} below.
          </p>
        </div>
      )}
      {error && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
      {created && (
        <SecretReveal title={`Endpoint added: ${created.url}`} secret={created.secret} onDone={() => setCreated(null)} />
      )}
      {adding && (
        <section className="endpoint-new" aria-labelledby="endpoint-new-title">
          <h4 id="endpoint-new-title">New endpoint</h4>
          <EndpointForm eventTypes={eventTypes} submitLabel="Add endpoint" onSubmit={create} onCancel={() => setAdding(false)} />
        </section>
      )}
      {endpoints === null ? (
        !error && <p className="hint">Loading…</p>
      ) : endpoints.length === 0 ? (
        !adding && !created && <p className="integrations-empty hint">No endpoints yet. Add one to have chatfn tell your systems what happens.</p>
      ) : (
        <ul className="endpoint-list">
          {endpoints.map((endpoint) => (
            <EndpointCard key={endpoint.id} endpoint={endpoint} eventTypes={eventTypes} onChanged={changed} onDeleted={deleted} />
          ))}
        </ul>
      )}
      <InboundIntegrations />
    </div>
  );
}
