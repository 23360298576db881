// The models the user can send to, and whether the one they would send to is ready yet.
import { useEffect, useState } from "react";
import * as api from "./api/client";
import type { Model } from "./types";

/** How often the list is asked again while a model is prepared (the API asks its model
 *  server every 5 s meanwhile). */
export const PREPARING_POLL_MS = 10_000;

/** The model a message would go to (the chosen one, else the default: the first listed),
 *  when it is still being prepared; null when it is ready or unknown. */
export function preparingTarget(models: Model[], chosen: string | null): Model | null {
  const target = models.find((m) => m.id === chosen) ?? models[0];
  return target?.status === "preparing" ? target : null;
}

/** `GET /api/models` once, then again every `pollMs` while any model is being prepared, so a
 *  notice about it goes away without a reload once it is ready. */
export function useModels(pollMs = PREPARING_POLL_MS): Model[] {
  const [models, setModels] = useState<Model[]>([]);
  const preparing = models.some((m) => m.status === "preparing");

  useEffect(() => {
    const alive = { current: true };
    ask(setModels, alive);
    return () => {
      alive.current = false;
    };
  }, []);

  useEffect(() => {
    if (!preparing) return;
    const alive = { current: true };
    const timer = window.setInterval(() => ask(setModels, alive), pollMs);
    return () => {
      alive.current = false;
      window.clearInterval(timer);
    };
  }, [preparing, pollMs]);

  return models;
}

/** One asking of the list; a failed one keeps what is shown (the next poll tries again). */
function ask(set: (models: Model[]) => void, alive: { current: boolean }) {
  void api.models().then(
    (listed) => alive.current && set(listed),
    () => undefined,
  );
}
