import type { Model } from "../types";

/** The <option>s of a model picker; one still being prepared says so. */
export function ModelOptions({ models }: { models: Model[] }) {
  return models.map((m) => (
    <option key={m.id} value={m.id}>
      {m.status === "preparing" ? `${m.id} (preparing)` : m.id}
    </option>
  ));
}
