import type { Model } from "../types";

/** The <option>s of a model picker. */
export function ModelOptions({ models }: { models: Model[] }) {
  return models.map((m) => (
    <option key={m.id} value={m.id}>
      {m.id}
    </option>
  ));
}
