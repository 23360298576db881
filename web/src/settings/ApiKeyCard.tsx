import { useId, useState } from "react";
import * as api from "../api/client";
import type { ApiKey } from "../types";
import { ConfirmButton } from "../ui/ConfirmButton";
import { SCOPES } from "./ApiKeyForm";
import { Badge } from "./Badge";
import { Time } from "./Time";

interface Props {
  apiKey: ApiKey;
  onRevoked(keyId: string): void;
}

const count = new Intl.NumberFormat();

/** One key: its name and hint, what it may do, when it was made and last used, until when it works, and Revoke. */
export function ApiKeyCard({ apiKey, onRevoked }: Props) {
  const [error, setError] = useState("");
  const ids = useId();
  const expired = !apiKey.revoked_at && apiKey.expires_at !== null && Date.parse(apiKey.expires_at) <= Date.now();
  const usable = !apiKey.revoked_at && !expired;

  const revoke = async () => {
    setError("");
    try {
      await api.revokeApiKey(apiKey.id);
      onRevoked(apiKey.id);
    } catch (failure) {
      setError(api.failureText(failure, "The key was not revoked. Try again."));
    }
  };

  const limits = [
    apiKey.daily_token_budget !== null && `${count.format(apiKey.daily_token_budget)} tokens a day`,
    apiKey.requests_per_minute !== null && `${count.format(apiKey.requests_per_minute)} requests a minute`,
  ].filter(Boolean);

  return (
    <li className={usable ? "endpoint api-key" : "endpoint api-key api-key-unusable"} aria-labelledby={`${ids}-name`}>
      <div className="endpoint-head">
        <h4 id={`${ids}-name`} className="integration-name">
          {apiKey.name}
        </h4>
        {apiKey.revoked_at ? <Badge tone="danger">Revoked</Badge> : expired && <Badge tone="muted">Expired</Badge>}
        {usable && <ConfirmButton label="Revoke" confirmLabel="Confirm revoke" subject={apiKey.name} onConfirm={() => void revoke()} />}
      </div>
      <code className="api-key-hint">{apiKey.hint}</code>
      <ul className="chips" aria-label="What it may do">
        {SCOPES.filter((scope) => apiKey.scopes.includes(scope.value)).map((scope) => (
          <li key={scope.value} className="chip" title={scope.call}>
            {scope.label}
          </li>
        ))}
        {apiKey.store && <li className="chip">Kept in history</li>}
      </ul>
      <dl className="api-key-facts">
        <div>
          <dt>Created</dt>{" "}
          <dd>
            <Time iso={apiKey.created_at} />
          </dd>
        </div>
        <div>
          <dt>Last used</dt>{" "}
          <dd>{apiKey.last_used_at ? <Time iso={apiKey.last_used_at} /> : "never"}</dd>
        </div>
        {apiKey.revoked_at ? (
          <div>
            <dt>Revoked</dt>{" "}
            <dd>
              <Time iso={apiKey.revoked_at} />
            </dd>
          </div>
        ) : (
          <div>
            <dt>{expired ? "Expired" : "Expires"}</dt>{" "}
            <dd>{apiKey.expires_at ? <Time iso={apiKey.expires_at} /> : "never"}</dd>
          </div>
        )}
        {limits.length > 0 && (
          <div>
            <dt>Limits</dt>{" "}
            <dd>{limits.join(", ")}</dd>
          </div>
        )}
      </dl>
      {error && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
    </li>
  );
}
