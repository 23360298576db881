import { useCallback, useEffect, useRef, useState } from "react";
import * as api from "../api/client";
import type { Conversation } from "../types";

export interface ConversationList {
  items: Conversation[];
  query: string;
  search(query: string): void;
  loading: boolean;
  hasMore: boolean;
  loadMore(): void;
  /** The server's answer about a conversation (made, changed, restored): it wins. */
  upsert(conversation: Conversation): void;
  /** What the chat view learnt (a title arrived, a message was sent). Its copy may be older
   *  than the list's, so it never brings back a conversation deleted or archived here since,
   *  nor undoes a rename or pin made here; it only adds the title and the activity. */
  merge(conversation: Conversation): void;
  remove(id: string): void;
  /** Read the first page again: chats arrived that this page did not make (an import). */
  reload(): void;
}

const SEARCH_DELAY_MS = 250;

const newestFirst = (a: Conversation, b: Conversation) =>
  b.updated_at.localeCompare(a.updated_at) || b.id.localeCompare(a.id);

function put(items: Conversation[], conversation: Conversation): Conversation[] {
  return [conversation, ...items.filter((c) => c.id !== conversation.id)]
    .filter((c) => !c.archived && !c.deleted_at)
    .sort(newestFirst);
}

/** The sidebar's conversations: paged from the server, searched there too. */
export function useConversations(): ConversationList {
  const [items, setItems] = useState<Conversation[]>([]);
  const [query, setQuery] = useState("");
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const generation = useRef(0);
  const searching = useRef(false);
  // Removed here (deleted, archived) and not brought back by the server since.
  const removed = useRef(new Set<string>());

  const fetchPage = useCallback(async (q: string, after: string | null) => {
    const asked = generation.current;
    setLoading(true);
    try {
      const page = await api.listConversations({ q: q || undefined, cursor: after ?? undefined });
      if (asked !== generation.current) return; // a newer search has started
      setItems((previous) => (after ? [...previous, ...page.conversations] : page.conversations));
      setCursor(page.next_cursor);
    } finally {
      if (asked === generation.current) setLoading(false);
    }
  }, []);

  useEffect(() => {
    generation.current += 1;
    searching.current = query !== "";
    const timer = setTimeout(() => void fetchPage(query, null).catch(() => undefined), query ? SEARCH_DELAY_MS : 0);
    return () => clearTimeout(timer);
  }, [query, fetchPage]);

  return {
    items,
    query,
    search: setQuery,
    loading,
    hasMore: cursor !== null,
    loadMore: () => {
      if (cursor && !loading) void fetchPage(query, cursor).catch(() => undefined);
    },
    upsert: useCallback((conversation: Conversation) => {
      removed.current.delete(conversation.id);
      setItems((previous) => put(previous, conversation));
    }, []),
    merge: useCallback((news: Conversation) => {
      if (removed.current.has(news.id)) return;
      setItems((previous) => {
        const known = previous.find((c) => c.id === news.id);
        // A search's results are the server's: news of another chat (its title came) stays out.
        if (!known) return searching.current ? previous : put(previous, news);
        const title = known.title || news.title;
        const updated_at = news.updated_at > known.updated_at ? news.updated_at : known.updated_at;
        return put(previous, { ...known, title, updated_at });
      });
    }, []),
    remove: useCallback((id: string) => {
      removed.current.add(id);
      setItems((previous) => previous.filter((c) => c.id !== id));
    }, []),
    reload: useCallback(() => {
      generation.current += 1;
      void fetchPage(query, null).catch(() => undefined);
    }, [query, fetchPage]),
  };
}
