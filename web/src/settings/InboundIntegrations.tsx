import { useEffect, useId, useState } from "react";
import * as api from "../api/client";
import type { Integration } from "../types";
import { IntegrationCard } from "./IntegrationCard";
import { IntegrationForm } from "./IntegrationForm";
import { SecretReveal } from "./SecretReveal";
import { SectionHead } from "./SectionHead";

const SIGNER_USE = "Your integration signs every message with it; chatfn refuses a message it did not sign.";

/** Inbound integrations: bots and helpdesks that post messages into the user's chats, each with its URL and secret. */
export function InboundIntegrations() {
  const [integrations, setIntegrations] = useState<Integration[] | null>(null);
  const [error, setError] = useState("");
  const [adding, setAdding] = useState(false);
  const [created, setCreated] = useState<{ name: string; secret: string } | null>(null);
  const headingId = useId();

  useEffect(() => {
    void api.listIntegrations().then(setIntegrations, (failure) => setError(api.failureText(failure, "Your integrations could not be loaded.")));
  }, []);

  const create = async (name: string) => {
    const { secret, ...integration } = await api.createIntegration(name);
    setIntegrations((shown) => [...(shown ?? []), integration]);
    setAdding(false);
    setCreated({ name: integration.name, secret });
  };
  const deleted = (integrationId: string) => setIntegrations((shown) => shown?.filter((i) => i.id !== integrationId) ?? null);

  return (
    <section className="inbound" aria-labelledby={headingId}>
      <SectionHead
        id={headingId}
        title="Incoming messages"
        hint="A bot or a helpdesk can post messages into your chats and get the replies, signing each with a secret of its own."
        addLabel="Add integration"
        adding={adding}
        onAdd={() => setAdding(true)}
      />
      {error && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
      {created && (
        <SecretReveal title={`Integration added: ${created.name}`} secret={created.secret} use={SIGNER_USE} onDone={() => setCreated(null)} />
      )}
      {adding && <IntegrationForm onSubmit={create} onCancel={() => setAdding(false)} />}
      {integrations === null ? (
        !error && <p className="hint">Loading…</p>
      ) : integrations.length === 0 ? (
        !adding && <p className="integrations-empty hint">No integrations yet. Add one to let another system start or continue chats for you.</p>
      ) : (
        <ul className="endpoint-list">
          {integrations.map((integration) => (
            <IntegrationCard key={integration.id} integration={integration} onDeleted={deleted} />
          ))}
        </ul>
      )}
    </section>
  );
}
