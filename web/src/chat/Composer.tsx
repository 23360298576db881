import { useEffect, useLayoutEffect, useRef, useState, type FormEvent, type KeyboardEvent } from "react";
import { ArrowUp, Square } from "lucide-react";
import { loadDraft, saveDraft } from "./drafts";
import { TEMPORARY_DRAFT } from "./temporary";

interface Props {
  conversationId: string | null;
  /** A temporary chat's draft ends with the tab, like the chat. */
  temporary: boolean;
  streaming: boolean;
  inputRef: React.RefObject<HTMLTextAreaElement | null>;
  onSend(content: string): Promise<void>;
  onStop(): void;
}

const MAX_HEIGHT_PX = 240;

/** The message box: grows with its text, Enter sends, Shift+Enter breaks the line, and
 *  the draft of each conversation survives a reload. */
export function Composer({ conversationId, temporary, streaming, inputRef, onSend, onStop }: Props) {
  const [draftKey, drafts] = temporary ? [TEMPORARY_DRAFT, sessionStorage] : [conversationId, localStorage];
  const [text, setText] = useState(() => loadDraft(draftKey, drafts));
  const [sending, setSending] = useState(false);
  const [error, setError] = useState("");
  const inFlight = useRef(false);

  useEffect(() => {
    // The first message of a new chat makes the conversation while it is being sent:
    // that arrival keeps what the box shows.
    if (!inFlight.current) setText(loadDraft(draftKey, drafts));
  }, [draftKey, drafts]);

  useLayoutEffect(() => {
    const box = inputRef.current;
    if (!box) return;
    box.style.height = "auto";
    box.style.height = `${Math.min(box.scrollHeight, MAX_HEIGHT_PX)}px`;
  }, [text, inputRef]);

  const change = (value: string) => {
    setText(value);
    saveDraft(draftKey, value, drafts);
  };

  const submit = async (event?: FormEvent) => {
    event?.preventDefault();
    const content = text.trim();
    if (!content || streaming || sending) return;
    setSending(true);
    inFlight.current = true;
    setError("");
    try {
      await onSend(content);
      setText("");
      saveDraft(draftKey, "", drafts);
      if (!temporary) saveDraft(null, "");
    } catch (failure) {
      // The text stays in the box, so nothing typed is lost.
      setError(failure instanceof Error ? failure.message : "The message was not sent.");
    } finally {
      setSending(false);
      inFlight.current = false;
    }
  };

  const keys = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key === "Enter" && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      void submit();
    }
  };

  return (
    <form className="composer" onSubmit={submit}>
      {error && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
      <div className="composer-box">
        <textarea
          ref={inputRef}
          id="composer"
          rows={1}
          value={text}
          placeholder="Message chatfn"
          aria-label="Message"
          onChange={(e) => change(e.target.value)}
          onKeyDown={keys}
        />
        {streaming ? (
          <button type="button" className="send-button" aria-label="Stop generating" title="Stop (Esc)" onClick={onStop}>
            <Square size={14} fill="currentColor" />
          </button>
        ) : (
          <button type="submit" className="send-button" aria-label="Send message" disabled={!text.trim() || sending}>
            <ArrowUp size={18} />
          </button>
        )}
      </div>
      <p className="composer-hint">
        {temporary
          ? "Temporary chat: not saved, gone when you close this tab."
          : "chatfn can make mistakes. Check important information."}
      </p>
    </form>
  );
}
