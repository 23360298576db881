import { useEffect, useId, useState } from "react";
import * as api from "../api/client";
import type { ApiKey } from "../types";
import { ApiKeyCard } from "./ApiKeyCard";
import { ApiKeyForm } from "./ApiKeyForm";
import { CopyableUrl } from "./CopyableUrl";
import { OpenAiHowTo } from "./OpenAiHowTo";
import { SecretReveal } from "./SecretReveal";
import { SectionHead } from "./SectionHead";
import { Usage } from "./Usage";

const KEY_USE = "Your code sends it as a bearer token. If it leaks, revoke it here.";

/** Personal API keys for the OpenAI-compatible /v1: the list, Create key (the key shown once), how to call it, and the usage. */
export function ApiKeys() {
  const [keys, setKeys] = useState<ApiKey[] | null>(null);
  const [error, setError] = useState("");
  const [adding, setAdding] = useState(false);
  const [created, setCreated] = useState<{ name: string; key: string } | null>(null);
  const callId = useId();
  const baseUrl = `${window.location.origin}/v1`;

  useEffect(() => {
    void api.listApiKeys().then(setKeys, (failure) => setError(api.failureText(failure, "Your keys could not be loaded.")));
  }, []);

  const create = async (fields: api.ApiKeyFields) => {
    const { key, ...apiKey } = await api.createApiKey(fields);
    setKeys((shown) => [apiKey, ...(shown ?? [])]);
    setAdding(false);
    setCreated({ name: apiKey.name, key });
  };
  // Revoked keys stay listed, as the API keeps them.
  const revoked = (keyId: string) => {
    const now = new Date().toISOString();
    setKeys((shown) => shown?.map((k) => (k.id === keyId ? { ...k, revoked_at: now } : k)) ?? null);
  };

  return (
    <div className="api-keys">
      <SectionHead
        title="API keys"
        hint="Call chatfn from your own code with any OpenAI client library. Each key is yours alone: it acts as you, within the limits you give it."
        addLabel="Create key"
        adding={adding}
        onAdd={() => setAdding(true)}
      />
      {error && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
      {created && <SecretReveal title={`Key created: ${created.name}`} noun="API key" secret={created.key} use={KEY_USE} onDone={() => setCreated(null)} />}
      {adding && <ApiKeyForm onSubmit={create} onCancel={() => setAdding(false)} />}
      {keys === null ? (
        !error && <p className="hint">Loading…</p>
      ) : keys.length === 0 ? (
        !adding && !created && <p className="integrations-empty hint">No keys yet. Create one to call chatfn from a script or another app.</p>
      ) : (
        <ul className="endpoint-list">
          {keys.map((apiKey) => (
            <ApiKeyCard key={apiKey.id} apiKey={apiKey} onRevoked={revoked} />
          ))}
        </ul>
      )}
      <section className="api-call" aria-labelledby={callId}>
        <h3 id={callId}>Call it like OpenAI</h3>
        <CopyableUrl label="Base URL" url={baseUrl} copyLabel="Copy the base URL" />
        <OpenAiHowTo baseUrl={baseUrl} />
      </section>
      <Usage />
    </div>
  );
}
