import { useId, useState } from "react";
import * as api from "../api/client";
import type { Integration } from "../types";
import { ConfirmButton } from "../ui/ConfirmButton";
import { CopyableUrl } from "./CopyableUrl";
import { HowToCall } from "./HowToCall";
import { Time } from "./Time";

interface Props {
  integration: Integration;
  onDeleted(integrationId: string): void;
}

/** One integration: its name, the URL it posts to, when it was added, and how to call it. */
export function IntegrationCard({ integration, onDeleted }: Props) {
  const [error, setError] = useState("");
  const ids = useId();
  // The API gives a path; the integration runs elsewhere and needs all of it.
  const url = new URL(integration.url, window.location.origin).href;

  const remove = async () => {
    setError("");
    try {
      await api.deleteIntegration(integration.id);
      onDeleted(integration.id);
    } catch (failure) {
      setError(api.failureText(failure, "The integration was not deleted. Try again."));
    }
  };

  return (
    <li className="endpoint integration" aria-labelledby={`${ids}-name`}>
      <div className="endpoint-head">
        <h4 id={`${ids}-name`} className="integration-name">
          {integration.name}
        </h4>
        <ConfirmButton label="Delete" confirmLabel="Confirm delete" subject={integration.name} onConfirm={() => void remove()} />
      </div>
      <CopyableUrl label="Posts to" url={url} copyLabel={`Copy the URL of ${integration.name}`} />
      <p className="endpoint-meta">
        Added <Time iso={integration.created_at} />
      </p>
      {error && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
      <HowToCall url={url} />
    </li>
  );
}
