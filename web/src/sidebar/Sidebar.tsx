import { useEffect, useRef, useState, type KeyboardEvent } from "react";
import { Link } from "wouter";
import { Archive, Keyboard, LogOut, MoreHorizontal, PanelLeftClose, Pencil, Pin, PinOff, Search, Settings, SquarePen, Trash2 } from "lucide-react";
import type { Conversation, User } from "../types";
import { groupConversations } from "./groups";
import type { ConversationList } from "./useConversations";

interface Props {
  list: ConversationList;
  activeId: string | null;
  user: User;
  open: boolean;
  searchRef: React.RefObject<HTMLInputElement | null>;
  onNewChat(): void;
  /** A chat was picked (phones close the sidebar then). */
  onPicked(): void;
  onClose(): void;
  onRename(conversation: Conversation, title: string): void;
  onPin(conversation: Conversation): void;
  onArchive(conversation: Conversation): void;
  onDelete(conversation: Conversation): void;
  onOpenSettings(): void;
  /** Something in Settings needs the user ("1 webhook endpoint disabled"): a dot on its entry. */
  settingsAlert: string | null;
  onOpenTrash(): void;
  onOpenShortcuts(): void;
  onLogout(): void;
}

export function Sidebar(props: Props) {
  const { list, activeId, user, open, searchRef } = props;
  const sentinel = useRef<HTMLLIElement>(null);

  // Infinite scroll: the next page loads as the end of the list comes into view.
  useEffect(() => {
    const end = sentinel.current;
    if (!end) return;
    const observer = new IntersectionObserver((entries) => entries.some((e) => e.isIntersecting) && list.loadMore());
    observer.observe(end);
    return () => observer.disconnect();
  }, [list]);

  const groups = groupConversations(list.items);
  return (
    <nav className={open ? "sidebar" : "sidebar sidebar-closed"} aria-label="Conversations" aria-hidden={!open}>
      <div className="sidebar-top">
        <button type="button" className="icon-button" aria-label="Close sidebar" title="Close sidebar (Ctrl+Shift+S)" onClick={props.onClose}>
          <PanelLeftClose size={20} />
        </button>
        <button type="button" className="icon-button" aria-label="New chat" title="New chat (Ctrl+Shift+O)" onClick={props.onNewChat}>
          <SquarePen size={20} />
        </button>
      </div>
      <div className="sidebar-search">
        <Search size={16} aria-hidden="true" />
        <input
          ref={searchRef}
          type="search"
          placeholder="Search chats"
          aria-label="Search chats"
          value={list.query}
          onChange={(e) => list.search(e.target.value)}
        />
      </div>
      <div className="sidebar-scroll">
        {groups.map(([name, conversations]) => (
          <section key={name} className="sidebar-group" aria-label={name}>
            <h2>{name}</h2>
            <ul>
              {conversations.map((c) => (
                <ConversationItem key={c.id} conversation={c} active={c.id === activeId} {...props} />
              ))}
            </ul>
          </section>
        ))}
        {!list.loading && list.items.length === 0 && (
          <p className="sidebar-empty">{list.query ? "No chats match your search." : "Your chats will appear here."}</p>
        )}
        <ul aria-hidden="true">
          <li ref={sentinel} className="sidebar-sentinel">
            {list.loading && list.items.length > 0 && "Loading…"}
          </li>
        </ul>
      </div>
      <div className="sidebar-footer">
        <button type="button" className="sidebar-footer-button" onClick={props.onOpenTrash}>
          <Trash2 size={16} aria-hidden="true" /> Trash &amp; archive
        </button>
        <button type="button" className="sidebar-footer-button" onClick={props.onOpenShortcuts}>
          <Keyboard size={16} aria-hidden="true" /> Keyboard shortcuts
        </button>
        <button type="button" className="sidebar-footer-button" onClick={props.onOpenSettings} title={props.settingsAlert ?? undefined}>
          <Settings size={16} aria-hidden="true" /> Settings
          {props.settingsAlert && (
            <>
              <span className="alert-dot" aria-hidden="true" />
              <span className="visually-hidden"> ({props.settingsAlert})</span>
            </>
          )}
        </button>
        <div className="sidebar-user">
          <span className="avatar" aria-hidden="true">
            {(user.display_name || user.email).slice(0, 1).toUpperCase()}
          </span>
          <span className="sidebar-user-name" title={user.email}>
            {user.display_name || user.email}
          </span>
          <button type="button" className="icon-button" aria-label="Log out" title="Log out" onClick={props.onLogout}>
            <LogOut size={16} />
          </button>
        </div>
      </div>
    </nav>
  );
}

interface ItemProps extends Props {
  conversation: Conversation;
  active: boolean;
}

function ConversationItem({ conversation, active, onPicked, onRename, onPin, onArchive, onDelete }: ItemProps) {
  const [menu, setMenu] = useState(false);
  const [renaming, setRenaming] = useState(false);
  const [title, setTitle] = useState(conversation.title);
  const label = conversation.title || "New chat";

  useEffect(() => {
    if (!menu) return;
    const close = () => setMenu(false);
    window.addEventListener("click", close);
    return () => window.removeEventListener("click", close);
  }, [menu]);

  const finishRename = () => {
    setRenaming(false);
    if (title.trim() && title.trim() !== conversation.title) onRename(conversation, title.trim());
    else setTitle(conversation.title);
  };
  const renameKeys = (event: KeyboardEvent) => {
    if (event.key === "Enter") finishRename();
    if (event.key === "Escape") {
      setTitle(conversation.title);
      setRenaming(false);
    }
  };

  return (
    <li className={active ? "conversation active" : "conversation"}>
      {renaming ? (
        <input
          className="rename-input"
          aria-label="New title"
          autoFocus
          value={title}
          maxLength={200}
          onChange={(e) => setTitle(e.target.value)}
          onBlur={finishRename}
          onKeyDown={renameKeys}
        />
      ) : (
        <Link href={`/c/${conversation.id}`} className="conversation-link" aria-current={active ? "page" : undefined} onClick={onPicked}>
          {conversation.pinned && <Pin size={12} className="pin-mark" aria-label="Pinned" />}
          <span className="conversation-title">{label}</span>
        </Link>
      )}
      <button
        type="button"
        className="icon-button conversation-menu-button"
        aria-label={`Options for ${label}`}
        aria-haspopup="menu"
        aria-expanded={menu}
        onClick={(event) => {
          event.stopPropagation();
          setMenu(!menu);
        }}
      >
        <MoreHorizontal size={16} />
      </button>
      {menu && (
        <div className="menu" role="menu">
          <button type="button" role="menuitem" onClick={() => setRenaming(true)}>
            <Pencil size={14} aria-hidden="true" /> Rename
          </button>
          <button type="button" role="menuitem" onClick={() => onPin(conversation)}>
            {conversation.pinned ? <PinOff size={14} aria-hidden="true" /> : <Pin size={14} aria-hidden="true" />}
            {conversation.pinned ? "Unpin" : "Pin"}
          </button>
          <button type="button" role="menuitem" onClick={() => onArchive(conversation)}>
            <Archive size={14} aria-hidden="true" /> Archive
          </button>
          <button type="button" role="menuitem" className="danger" onClick={() => onDelete(conversation)}>
            <Trash2 size={14} aria-hidden="true" /> Delete
          </button>
        </div>
      )}
    </li>
  );
}
