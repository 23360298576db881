import { useCallback, useEffect, useState } from "react";
import * as api from "../api/client";
import type { Endpoint } from "../types";

export function disabledCount(endpoints: Endpoint[]): number {
  return endpoints.filter((e) => e.state === "disabled").length;
}

/**
 * How many of the user's webhook endpoints chatfn disabled after repeated failures, for a dot
 * on Settings: asked at start-up and on `refresh` (when Settings closes); `seen` takes a list
 * Settings has just loaded or changed.
 */
export function useDisabledEndpoints() {
  const [count, setCount] = useState(0);
  const seen = useCallback((endpoints: Endpoint[]) => setCount(disabledCount(endpoints)), []);
  // Offline, or an API without webhooks: no dot, and nothing to say about it.
  const refresh = useCallback(() => void api.listEndpoints().then(seen, () => undefined), [seen]);
  useEffect(refresh, [refresh]);
  const alert = count === 0 ? null : count === 1 ? "1 webhook endpoint disabled" : `${count} webhook endpoints disabled`;
  return { count, alert, refresh, seen };
}
