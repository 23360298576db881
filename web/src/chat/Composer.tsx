import { useEffect, useLayoutEffect, useRef, useState, type ClipboardEvent, type FormEvent, type KeyboardEvent } from "react";
import { ArrowUp, FileUp, Paperclip, Square } from "lucide-react";
import type { Attachment } from "../types";
import { ComposerFiles } from "./Attachments";
import { loadDraft, saveDraft } from "./drafts";
import { canSend, stored, uploading } from "./pendingFiles";
import { TEMPORARY_DRAFT } from "./temporary";
import { useAttachments } from "./useAttachments";

interface Props {
  conversationId: string | null;
  /** A temporary chat's draft ends with the tab, like the chat; it takes no files. */
  temporary: boolean;
  streaming: boolean;
  inputRef: React.RefObject<HTMLTextAreaElement | null>;
  /** Where files can be dropped to attach them: the whole chat. */
  dropZone: React.RefObject<HTMLElement | null>;
  onSend(content: string, attachments: Attachment[]): Promise<void>;
  onStop(): void;
}

const MAX_HEIGHT_PX = 240;

/** The message box: grows with its text, Enter sends, Shift+Enter breaks the line, and
 *  the draft of each conversation survives a reload, with the files attached to it
 *  (chosen with the paperclip, dropped on the chat or pasted). */
export function Composer({ conversationId, temporary, streaming, inputRef, dropZone, onSend, onStop }: Props) {
  const [draftKey, drafts] = temporary ? [TEMPORARY_DRAFT, sessionStorage] : [conversationId, localStorage];
  const [text, setText] = useState(() => loadDraft(draftKey, drafts));
  const [sending, setSending] = useState(false);
  const [error, setError] = useState("");
  const inFlight = useRef(false);
  const attachments = useAttachments(draftKey, drafts, inFlight);
  const fileInput = useRef<HTMLInputElement>(null);
  const dragging = useDrop(temporary ? null : dropZone, attachments.add);

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
    if (!canSend(text, attachments.files) || streaming || sending) return;
    setSending(true);
    inFlight.current = true;
    setError("");
    try {
      await onSend(text.trim(), stored(attachments.files));
      setText("");
      saveDraft(draftKey, "", drafts);
      if (!temporary) saveDraft(null, "");
      attachments.sent();
    } catch (failure) {
      // The text and the files stay in the box, so nothing is lost.
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

  // A pasted image (a screenshot, say) is attached; pasted text goes in as text.
  const paste = (event: ClipboardEvent<HTMLTextAreaElement>) => {
    const files = [...event.clipboardData.files];
    if (temporary || !files.length) return;
    event.preventDefault();
    attachments.add(files);
  };

  const notice = error || attachments.notice;
  return (
    <form className="composer" onSubmit={submit}>
      {notice && (
        <p className="form-error" role="alert">
          {notice}
        </p>
      )}
      <div className="composer-box">
        {attachments.files.length > 0 && <ComposerFiles files={attachments.files} onRemove={attachments.remove} />}
        {!temporary && (
          <>
            <input
              ref={fileInput}
              type="file"
              multiple
              hidden
              onChange={(event) => {
                attachments.add([...(event.target.files ?? [])]);
                event.target.value = ""; // the same file can be chosen again
              }}
            />
            <button type="button" className="icon-button attach-button" aria-label="Attach files" title="Attach files" onClick={() => fileInput.current?.click()}>
              <Paperclip size={20} />
            </button>
          </>
        )}
        <textarea
          ref={inputRef}
          id="composer"
          rows={1}
          value={text}
          placeholder="Message chatfn"
          aria-label="Message"
          onChange={(e) => change(e.target.value)}
          onKeyDown={keys}
          onPaste={paste}
        />
        {streaming ? (
          <button type="button" className="send-button" aria-label="Stop generating" title="Stop (Esc)" onClick={onStop}>
            <Square size={14} fill="currentColor" />
          </button>
        ) : (
          <button
            type="submit"
            className="send-button"
            aria-label="Send message"
            title={uploading(attachments.files) ? "Waiting for the files to upload" : undefined}
            disabled={!canSend(text, attachments.files) || sending}
          >
            <ArrowUp size={18} />
          </button>
        )}
      </div>
      <p className="composer-hint">
        {temporary
          ? "Temporary chat: not saved, gone when you close this tab."
          : "chatfn can make mistakes. Check important information."}
      </p>
      {dragging && (
        <div className="drop-overlay">
          <div className="drop-target">
            <FileUp size={32} aria-hidden="true" />
            <strong>Drop files to attach them</strong>
            <span className="hint">Text, code, PDF and images</span>
          </div>
        </div>
      )}
    </form>
  );
}

/** Whether files are being dragged over `zone`; dropped there, they go to `onFiles`.
 *  Only a drag that carries files counts (not text or a link being moved). */
function useDrop(zone: React.RefObject<HTMLElement | null> | null, onFiles: (files: File[]) => void): boolean {
  const [dragging, setDragging] = useState(false);
  useEffect(() => {
    const element = zone?.current;
    if (!element) return;
    const carriesFiles = (event: DragEvent) => event.dataTransfer?.types.includes("Files") ?? false;
    const over = (event: DragEvent) => {
      if (!carriesFiles(event)) return;
      event.preventDefault(); // what makes the element a drop target
      setDragging(true);
    };
    const leave = (event: DragEvent) => {
      // Leaving for one of its own children is still being over it.
      if (!(event.relatedTarget instanceof Node && element.contains(event.relatedTarget))) setDragging(false);
    };
    const drop = (event: DragEvent) => {
      if (!carriesFiles(event)) return;
      event.preventDefault(); // or the browser opens the file in place of the app
      setDragging(false);
      onFiles([...(event.dataTransfer?.files ?? [])]);
    };
    element.addEventListener("dragenter", over);
    element.addEventListener("dragover", over);
    element.addEventListener("dragleave", leave);
    element.addEventListener("drop", drop);
    return () => {
      element.removeEventListener("dragenter", over);
      element.removeEventListener("dragover", over);
      element.removeEventListener("dragleave", leave);
      element.removeEventListener("drop", drop);
    };
  }, [zone, onFiles]);
  return dragging;
}
