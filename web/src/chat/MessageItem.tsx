import { lazy, memo, Suspense, useState } from "react";
import { Check, ChevronLeft, ChevronRight, Copy, Pencil, RefreshCw, ThumbsDown, ThumbsUp } from "lucide-react";
import * as api from "../api/client";
import type { StreamStatus } from "../api/stream";
import type { Attachment, Message } from "../types";
import { useCopy } from "../ui/useCopy";
import { ComposerFiles, MessageFiles } from "./Attachments";
import { asChip } from "./pendingFiles";

// The renderer (markdown, highlighting, KaTeX) is most of the code: it loads after the
// first paint, and plain text stands in for the moment it takes.
const loadMarkdown = () => import("../markdown/Markdown");
const Markdown = lazy(loadMarkdown);
export const preloadMarkdown = () => void loadMarkdown();

interface Props {
  message: Message;
  position: { index: number; count: number };
  error?: string;
  connection?: StreamStatus;
  busy: boolean;
  /** A temporary chat's message: the server keeps nothing to rate. */
  temporary?: boolean;
  /** Absent: the message cannot be edited. `attachments`: the files it keeps (already stored). */
  onEdit?(message: Message, content: string, attachments: Attachment[]): void;
  /** Absent: the reply cannot be asked again (nor tried again when it failed). */
  onRegenerate?(message: Message): void;
  onSibling(message: Message, delta: number): void;
}

export const MessageItem = memo(function MessageItem(props: Props) {
  // A caller's system prompt, kept with a completion made through an API key: context, not a turn.
  if (props.message.role === "system") return <SystemMessage content={props.message.content} />;
  return <Turn {...props} />;
});

function SystemMessage({ content }: { content: string }) {
  return (
    <article className="message message-system" aria-label="System prompt">
      <div className="system-prompt">
        <span className="system-label">System</span>
        <div className="system-text">{content}</div>
      </div>
    </article>
  );
}

function Turn({ message, position, error, connection, busy, temporary, onEdit, onRegenerate, onSibling }: Props) {
  const [editing, setEditing] = useState(false);
  const [copied, copy] = useCopy();
  const [rating, setRating] = useState<"up" | "down" | null>(null);
  const mine = message.role === "user";
  const writing = message.status === "streaming";

  const rate = async (value: "up" | "down") => {
    setRating(value);
    await api.feedback(message.id, value).catch(() => setRating(null));
  };

  return (
    <article className={mine ? "message message-user" : "message message-assistant"} aria-label={mine ? "You said" : "Assistant said"}>
      {editing && onEdit ? (
        <EditBox
          initial={message.content}
          files={message.attachments ?? []}
          onCancel={() => setEditing(false)}
          onSave={(content, attachments) => {
            setEditing(false);
            onEdit(message, content, attachments);
          }}
        />
      ) : mine ? (
        <>
          {message.attachments?.length ? <MessageFiles attachments={message.attachments} /> : null}
          {message.content && <div className="bubble">{message.content}</div>}
        </>
      ) : (
        <div className="reply" aria-busy={writing}>
          {message.content ? (
            <Suspense fallback={<div className="markdown plain">{message.content}</div>}>
              <Markdown text={message.content} />
            </Suspense>
          ) : (
            writing && <span className="thinking" aria-label="Thinking" />
          )}
          {writing && connection && connection !== "open" && connection !== "connecting" && (
            <p className="stream-note">{connection === "offline" ? "Offline. The answer continues when you are back." : "Reconnecting…"}</p>
          )}
          {message.status === "stopped" && <p className="stream-note">Stopped.</p>}
          {message.status === "failed" && (
            <div className="reply-error" role="alert">
              <span>{error || "The answer could not be completed."}</span>
              {onRegenerate && (
                <button type="button" onClick={() => onRegenerate(message)} disabled={busy}>
                  <RefreshCw size={14} aria-hidden="true" /> Try again
                </button>
              )}
            </div>
          )}
        </div>
      )}
      {!editing && !writing && (
        <div className="message-actions">
          {position.count > 1 && (
            <span className="siblings" aria-label={`Version ${position.index} of ${position.count}`}>
              <button type="button" className="icon-button" aria-label="Previous version" disabled={position.index === 1 || busy} onClick={() => onSibling(message, -1)}>
                <ChevronLeft size={16} />
              </button>
              <span>
                {position.index} / {position.count}
              </span>
              <button type="button" className="icon-button" aria-label="Next version" disabled={position.index === position.count || busy} onClick={() => onSibling(message, 1)}>
                <ChevronRight size={16} />
              </button>
            </span>
          )}
          <button type="button" className="icon-button" aria-label={copied ? "Copied" : "Copy message"} title="Copy" onClick={() => copy(message.content)}>
            {copied ? <Check size={16} /> : <Copy size={16} />}
          </button>
          {mine
            ? onEdit && (
                <button type="button" className="icon-button" aria-label="Edit message" title="Edit" disabled={busy} onClick={() => setEditing(true)}>
                  <Pencil size={16} />
                </button>
              )
            : !temporary && (
                <>
                  <button type="button" className="icon-button" aria-label="Good response" aria-pressed={rating === "up"} onClick={() => rate("up")}>
                    <ThumbsUp size={16} />
                  </button>
                  <button type="button" className="icon-button" aria-label="Bad response" aria-pressed={rating === "down"} onClick={() => rate("down")}>
                    <ThumbsDown size={16} />
                  </button>
                </>
              )}
          {!mine && onRegenerate && (
            <button type="button" className="icon-button" aria-label="Regenerate" title="Regenerate" disabled={busy} onClick={() => onRegenerate(message)}>
              <RefreshCw size={16} />
            </button>
          )}
        </div>
      )}
    </article>
  );
}

/** The edited message goes with the files of the one it replaces (already stored, so
 *  nothing uploads again), less any taken off here. */
function EditBox({
  initial,
  files,
  onSave,
  onCancel,
}: {
  initial: string;
  files: Attachment[];
  onSave(content: string, attachments: Attachment[]): void;
  onCancel(): void;
}) {
  const [text, setText] = useState(initial);
  const [kept, setKept] = useState(files);
  return (
    <div className="edit-box">
      {kept.length > 0 && <ComposerFiles files={kept.map(asChip)} onRemove={(id) => setKept((now) => now.filter((a) => a.id !== id))} />}
      <textarea
        aria-label="Edit message"
        autoFocus
        value={text}
        onChange={(e) => setText(e.target.value)}
        onKeyDown={(e) => e.key === "Escape" && onCancel()}
        rows={Math.min(10, text.split("\n").length + 1)}
      />
      <div className="edit-actions">
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
        <button type="button" className="primary" disabled={!text.trim() && kept.length === 0} onClick={() => onSave(text.trim(), kept)}>
          Send
        </button>
      </div>
    </div>
  );
}
