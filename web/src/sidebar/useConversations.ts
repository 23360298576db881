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
  /** A conversation made or changed elsewhere (sending moves it to the top). */
  upsert(conversation: Conversation): void;
  remove(id: string): void;
}

const SEARCH_DELAY_MS = 250;

const newestFirst = (a: Conversation, b: Conversation) =>
  b.updated_at.localeCompare(a.updated_at) || b.id.localeCompare(a.id);

/** The sidebar's conversations: paged from the server, searched there too. */
export function useConversations(): ConversationList {
  const [items, setItems] = useState<Conversation[]>([]);
  const [query, setQuery] = useState("");
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const generation = useRef(0);

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
      setItems((previous) =>
        [conversation, ...previous.filter((c) => c.id !== conversation.id)]
          .filter((c) => !c.archived && !c.deleted_at)
          .sort(newestFirst),
      );
    }, []),
    remove: useCallback((id: string) => setItems((previous) => previous.filter((c) => c.id !== id)), []),
  };
}
