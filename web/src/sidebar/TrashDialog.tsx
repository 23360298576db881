import { useEffect, useState } from "react";
import * as api from "../api/client";
import type { Conversation } from "../types";
import { ConfirmButton } from "../ui/ConfirmButton";
import { Dialog } from "../ui/Dialog";

interface Props {
  open: boolean;
  onClose(): void;
  onRestored(conversation: Conversation): void;
}

/** Deleted chats (restorable for 30 days) and archived ones, each a click from the sidebar. */
export function TrashDialog({ open, onClose, onRestored }: Props) {
  const [deleted, setDeleted] = useState<Conversation[] | null>(null);
  const [archived, setArchived] = useState<Conversation[] | null>(null);

  useEffect(() => {
    if (!open) return;
    void api.trash().then(setDeleted, () => setDeleted([]));
    void api.listConversations({ archived: true }).then((page) => setArchived(page.conversations), () => setArchived([]));
  }, [open]);

  const restore = async (conversation: Conversation) => {
    const restored = await api.restoreConversation(conversation.id);
    setDeleted((items) => items?.filter((c) => c.id !== conversation.id) ?? null);
    onRestored(restored);
  };
  const purge = async (conversation: Conversation) => {
    await api.purgeConversation(conversation.id);
    setDeleted((items) => items?.filter((c) => c.id !== conversation.id) ?? null);
  };
  const unarchive = async (conversation: Conversation) => {
    const restored = await api.updateConversation(conversation.id, { archived: false });
    setArchived((items) => items?.filter((c) => c.id !== conversation.id) ?? null);
    onRestored(restored);
  };

  return (
    <Dialog title="Trash & archive" open={open} onClose={onClose} wide>
      <section aria-labelledby="trash-heading" className="shelf">
        <h3 id="trash-heading">Trash</h3>
        <p className="hint">Deleted chats stay here for 30 days.</p>
        <Shelf items={deleted} empty="The trash is empty." action="Restore" onAction={restore} onPurge={purge} />
      </section>
      <section aria-labelledby="archive-heading" className="shelf">
        <h3 id="archive-heading">Archived</h3>
        <Shelf items={archived} empty="No archived chats." action="Unarchive" onAction={unarchive} />
      </section>
    </Dialog>
  );
}

interface ShelfProps {
  items: Conversation[] | null;
  empty: string;
  action: string;
  onAction(c: Conversation): void;
  /** Deleting for good asks once more (ConfirmButton). */
  onPurge?(c: Conversation): void;
}

function Shelf({ items, empty, action, onAction, onPurge }: ShelfProps) {
  if (items === null) return <p className="hint">Loading…</p>;
  if (items.length === 0) return <p className="hint">{empty}</p>;
  return (
    <ul className="shelf-list">
      {items.map((c) => {
        const title = c.title || "New chat";
        return (
          <li key={c.id}>
            <span>{title}</span>
            <button type="button" onClick={() => onAction(c)} aria-label={`${action} ${title}`}>
              {action}
            </button>
            {onPurge && (
              <ConfirmButton label="Delete forever" confirmLabel="Confirm delete" subject={title} onConfirm={() => onPurge(c)} />
            )}
          </li>
        );
      })}
    </ul>
  );
}
