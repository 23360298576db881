import { Hourglass } from "lucide-react";
import type { Model } from "../types";

export const MEANWHILE = "You can look around and write meanwhile; replies start once it is ready.";

/** Above the composer while the model a message would go to is being prepared (on a fresh
 *  machine llama.cpp compiles for minutes): how far it is, and that nothing is blocked. */
export function ModelNotice({ model }: { model: Model }) {
  return (
    <div className="model-notice" role="status">
      <Hourglass size={16} aria-hidden="true" />
      <p>
        {model.detail || `${model.id} is being prepared.`} {MEANWHILE}
      </p>
    </div>
  );
}
