import { useCallback, useEffect, useLayoutEffect, useRef, useState } from "react";
import { useVirtualizer } from "@tanstack/react-virtual";
import { ArrowDown, CloudOff, MessageCircleDashed, PanelLeftOpen, SquarePen } from "lucide-react";
import { siblingPosition } from "../tree";
import { ShareButton } from "../share/ShareDialog";
import { preparingTarget } from "../models";
import { ModelOptions } from "../ui/ModelOptions";
import type { Attachment, Conversation, Message, Model } from "../types";
import { Composer } from "./Composer";
import { MessageItem } from "./MessageItem";
import { ModelNotice } from "./ModelNotice";
import { TemporaryNotice, TemporarySwitch } from "./TemporaryChat";
import { useChat, type ChatController } from "./useChat";
import { useTemporaryChat } from "./useTemporaryChat";

interface Props {
  conversationId: string | null;
  /** A temporary chat is on screen (held by this tab, kept nowhere). */
  temporary: boolean;
  onTemporary(on: boolean): void;
  userId: string;
  models: Model[];
  model: string | null;
  onModel(model: string): void;
  sidebarOpen: boolean;
  onOpenSidebar(): void;
  onNewChat(): void;
  onCreated(conversation: Conversation): void;
  onChanged(conversation: Conversation): void;
  composerRef: React.RefObject<HTMLTextAreaElement | null>;
  /** The current chat, for the app's keyboard shortcuts (stop). */
  chatRef: React.RefObject<ChatController | null>;
}

// Within this distance of the end, the view counts as "at the bottom" and follows the reply.
const STICK_PX = 48;

export function ChatView(props: Props) {
  const { conversationId, models, model, onModel } = props;
  const saved = useChat(conversationId, { onCreated: props.onCreated, onChanged: props.onChanged });
  const temporaryChat = useTemporaryChat(props.temporary, props.userId);
  const chat = props.temporary ? temporaryChat : saved;
  props.chatRef.current = chat;
  const scroller = useRef<HTMLDivElement>(null);
  const chatArea = useRef<HTMLElement>(null);
  const [atBottom, setAtBottom] = useState(true);
  const stick = useRef(true);

  // The list is windowed: only the messages near the viewport are in the DOM, so a
  // thousand-message chat scrolls as smoothly as a short one.
  const virtualizer = useVirtualizer({
    count: chat.path.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => 140,
    overscan: 6,
    getItemKey: (index) => chat.path[index]!.id,
  });
  const totalSize = virtualizer.getTotalSize();

  useLayoutEffect(() => {
    const element = scroller.current;
    if (element && stick.current) element.scrollTop = element.scrollHeight;
  }, [totalSize, chat.path.length]);

  useEffect(() => {
    stick.current = true;
    setAtBottom(true);
  }, [conversationId, props.temporary]);

  // An opened conversation goes on with the model that answered it last.
  const lastModel = chat.loading ? undefined : chat.path.findLast((m) => m.role === "assistant")?.model;
  useEffect(() => {
    if (lastModel && models.some((m) => m.id === lastModel)) onModel(lastModel);
  }, [conversationId, lastModel, models, onModel]);

  // Only a scroll upwards lets go of the bottom: the smooth scroll down to it passes through
  // positions short of the end, and the answer may grow meanwhile.
  const lastTop = useRef(0);
  const onScroll = () => {
    const element = scroller.current!;
    const bottom = element.scrollHeight - element.scrollTop - element.clientHeight < STICK_PX;
    if (bottom) stick.current = true;
    else if (element.scrollTop < lastTop.current) stick.current = false;
    lastTop.current = element.scrollTop;
    setAtBottom(bottom);
  };
  const toBottom = () => {
    stick.current = true;
    scroller.current?.scrollTo({ top: scroller.current.scrollHeight, behavior: "smooth" });
  };

  // Stable callbacks, so a streaming reply re-renders itself and not every message.
  const latest = useRef({ chat, model });
  latest.current = { chat, model };
  const edit = useCallback((message: Message, content: string, attachments: Attachment[]) => {
    stick.current = true;
    void latest.current.chat.edit?.(message, content, latest.current.model, attachments);
  }, []);
  const regenerate = useCallback((message: Message) => {
    stick.current = true;
    void latest.current.chat.regenerate(message, latest.current.model);
  }, []);
  const sibling = useCallback((message: Message, delta: number) => latest.current.chat.showSibling(message, delta), []);

  const send = async (content: string, attachments: Attachment[]) => {
    stick.current = true;
    await chat.send(content, model, attachments);
  };

  const empty = !conversationId && chat.path.length === 0;
  const preparing = preparingTarget(models, model);
  const title = props.temporary ? "Temporary chat" : chat.conversation?.title || (conversationId ? "New chat" : "");
  useEffect(() => {
    document.title = title ? `${title} · chatfn` : "chatfn";
  }, [title]);
  return (
    <main className="chat" aria-label="Chat" ref={chatArea}>
      <header className="chat-header">
        {!props.sidebarOpen && (
          <>
            <button type="button" className="icon-button" aria-label="Open sidebar" onClick={props.onOpenSidebar}>
              <PanelLeftOpen size={20} />
            </button>
            <button type="button" className="icon-button" aria-label="New chat" onClick={props.onNewChat}>
              <SquarePen size={20} />
            </button>
          </>
        )}
        <label className="model-picker">
          <span className="visually-hidden">Model</span>
          <select value={model ?? ""} onChange={(e) => onModel(e.target.value)} aria-label="Model">
            <ModelOptions models={models} />
          </select>
        </label>
        <h1 className={props.temporary ? "visually-hidden" : "chat-title"}>{title}</h1>
        {/* In a temporary chat this is its badge, and pressing it again leaves. */}
        <button
          type="button"
          className={props.temporary ? "temporary-badge" : "icon-button"}
          aria-label="Temporary chat"
          aria-pressed={props.temporary}
          title={props.temporary ? "Leave the temporary chat (it is cleared)" : "Temporary chat: not saved to your history"}
          onClick={() => props.onTemporary(!props.temporary)}
        >
          <MessageCircleDashed size={props.temporary ? 14 : 20} aria-hidden="true" />
          {props.temporary && "Temporary"}
        </button>
        {conversationId && <ShareButton conversationId={conversationId} upToMessageId={chat.path.at(-1)?.id} busy={chat.streaming !== null} />}
      </header>

      {chat.loadError ? (
        <div className="chat-problem" role="alert">
          <h2>{chat.loadError.status === 404 ? "This chat does not exist" : "This chat could not be loaded"}</h2>
          <p>{chat.loadError.status === 404 ? "It may have been deleted." : chat.loadError.detail || chat.loadError.message}</p>
          <button type="button" className="primary" onClick={props.onNewChat}>
            Start a new chat
          </button>
        </div>
      ) : empty ? (
        <div className="chat-empty">
          {props.temporary ? (
            <>
              <h2>Temporary chat</h2>
              <TemporaryNotice />
            </>
          ) : (
            <h2>How can I help you today?</h2>
          )}
          <TemporarySwitch on={props.temporary} onChange={props.onTemporary} />
        </div>
      ) : (
        <div className="messages" ref={scroller} onScroll={onScroll} aria-busy={chat.loading}>
          <div className="messages-inner" style={{ height: totalSize }}>
            {virtualizer.getVirtualItems().map((item) => {
              const message = chat.path[item.index]!;
              return (
                <div key={item.key} data-index={item.index} ref={virtualizer.measureElement} className="message-row" style={{ transform: `translateY(${item.start}px)` }}>
                  <MessageItem
                    message={message}
                    position={siblingPosition(message, chat.messages)}
                    error={chat.replyErrors[message.id]}
                    connection={chat.connection[message.id]}
                    busy={chat.streaming !== null}
                    temporary={props.temporary}
                    onEdit={chat.edit ? edit : undefined}
                    // A temporary chat is one line: only its last answer can be asked again.
                    onRegenerate={!props.temporary || item.index === chat.path.length - 1 ? regenerate : undefined}
                    onSibling={sibling}
                  />
                </div>
              );
            })}
          </div>
          {chat.waiting.map((queued, index) => (
            <div key={index} className="message message-user message-waiting">
              <div className="bubble">{queued.content || queued.attachments?.map((a) => a.name).join(", ")}</div>
              <p className="stream-note">
                <CloudOff size={14} aria-hidden="true" /> Waiting for a connection to send
              </p>
            </div>
          ))}
        </div>
      )}

      {!atBottom && !empty && (
        <button type="button" className="to-bottom" aria-label="Scroll to the latest message" onClick={toBottom}>
          <ArrowDown size={18} />
        </button>
      )}
      {preparing && <ModelNotice model={preparing} />}
      <Composer
        conversationId={conversationId}
        temporary={props.temporary}
        streaming={chat.streaming !== null}
        inputRef={props.composerRef}
        dropZone={chatArea}
        onSend={send}
        onStop={() => void chat.stop()}
      />
    </main>
  );
}
