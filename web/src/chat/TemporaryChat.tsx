import { MessageCircleDashed } from "lucide-react";

/** What a temporary chat is, said where one starts. */
export function TemporaryNotice() {
  return (
    <p className="temporary-notice">
      This chat is not saved to your history, and nothing in it is used for titles, search, exports or webhooks. It lives in this
      tab only: it is gone when you close the tab or leave it, and the server forgets each answer within 10 minutes of writing it.
    </p>
  );
}

/** The new-chat screen's way in and out of a temporary chat. */
export function TemporarySwitch({ on, onChange }: { on: boolean; onChange(on: boolean): void }) {
  return (
    <button type="button" role="switch" aria-checked={on} className="temporary-switch" onClick={() => onChange(!on)}>
      <MessageCircleDashed size={16} aria-hidden="true" />
      Temporary chat
      <span className="switch-track" aria-hidden="true">
        <span className="switch-thumb" />
      </span>
    </button>
  );
}
