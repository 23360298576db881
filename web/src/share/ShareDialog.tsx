import { useEffect, useState } from "react";
import { Share2 } from "lucide-react";
import { failureText } from "../api/client";
import { CopyableUrl } from "../settings/CopyableUrl";
import { Dialog } from "../ui/Dialog";
import { absoluteUrl, createShare, type ShareLink } from "./api";
import "./share.css";

interface Props {
  conversationId: string;
  /** The last message on screen: the branch shown, up to it, is what is shared. */
  upToMessageId: string | undefined;
  /** A reply is being written: the branch is not finished yet. */
  busy: boolean;
}

/** The chat header's Share button and its dialog: a read-only link to the branch on screen. */
export function ShareButton({ conversationId, upToMessageId, busy }: Props) {
  const [open, setOpen] = useState(false);
  return (
    <>
      <button
        type="button"
        className="icon-button"
        aria-label="Share"
        title={busy ? "Share once the answer is finished" : "Share a read-only link"}
        disabled={!upToMessageId || busy}
        onClick={() => setOpen(true)}
      >
        <Share2 size={20} />
      </button>
      {upToMessageId && (
        <ShareDialog open={open} conversationId={conversationId} upToMessageId={upToMessageId} onClose={() => setOpen(false)} />
      )}
    </>
  );
}

interface DialogProps {
  open: boolean;
  conversationId: string;
  upToMessageId: string;
  onClose(): void;
}

export function ShareDialog({ open, conversationId, upToMessageId, onClose }: DialogProps) {
  const [link, setLink] = useState<ShareLink | null>(null);
  const [error, setError] = useState("");
  const [creating, setCreating] = useState(false);

  useEffect(() => {
    if (!open) return;
    setLink(null);
    setError("");
  }, [open, conversationId, upToMessageId]);

  const create = async () => {
    setCreating(true);
    setError("");
    try {
      setLink(await createShare(conversationId, upToMessageId));
    } catch (failure) {
      setError(failureText(failure, "The link could not be made. Try again."));
    } finally {
      setCreating(false);
    }
  };

  return (
    <Dialog title="Share this chat" open={open} onClose={onClose}>
      <div className="share-dialog">
        <p>
          Share up to the latest message: anyone with the link can read this chat as it is now, up to the last message on screen,
          without signing in, and copy it into their own account to go on with it.
        </p>
        <p className="hint">Messages you send later, and other versions of this chat, are not shared. You can revoke the link in Settings, Shared links.</p>
        {link ? (
          <CopyableUrl label="Anyone with this link can read it" url={absoluteUrl(link.url)} copyLabel="Copy the share link" />
        ) : (
          <button type="button" className="primary" onClick={() => void create()} disabled={creating}>
            {creating ? "Creating…" : "Create link"}
          </button>
        )}
        {error && (
          <p className="form-error" role="alert">
            {error}
          </p>
        )}
      </div>
    </Dialog>
  );
}
