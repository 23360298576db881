import { useCallback, useEffect, useRef, useState } from "react";
import { useLocation } from "wouter";
import * as api from "./api/client";
import { AuthScreen } from "./auth/AuthScreen";
import { shareToken } from "./share/api";
import { SharedPage } from "./share/SharedPage";
import { ChatView } from "./chat/ChatView";
import { preloadMarkdown } from "./chat/MessageItem";
import { clearTemporary, TEMPORARY_PATH } from "./chat/temporary";
import type { ChatController } from "./chat/useChat";
import { SettingsDialog } from "./settings/SettingsDialog";
import { ShortcutsDialog, useShortcuts } from "./settings/Shortcuts";
import { useDisabledEndpoints } from "./settings/useDisabledEndpoints";
import { TrashDialog } from "./sidebar/TrashDialog";
import { Sidebar } from "./sidebar/Sidebar";
import { useConversations } from "./sidebar/useConversations";
import { useTheme } from "./theme";
import { useModels } from "./models";
import type { Conversation, Session, User } from "./types";
import { Toast, type ToastMessage } from "./ui/Toast";

const NARROW = "(max-width: 767px)";
const CONVERSATION_PATH = /^\/c\/([0-9a-f-]{36})$/i;

export function App() {
  // undefined: still finding out whether the refresh cookie holds a session.
  const [user, setUser] = useState<User | null | undefined>(undefined);
  const [expired, setExpired] = useState(false);
  // The user deleted their account: the sign-in screen says so.
  const [deleted, setDeleted] = useState(false);
  const [location] = useLocation();
  const token = shareToken(location);
  useTheme(user?.preferences.theme ?? "system");

  useEffect(() => {
    void api.refreshSession().then((session) => setUser(session?.user ?? null));
    return api.onSessionExpired(() => setExpired(true));
  }, []);

  const signedIn = (session: Session) => {
    setUser(session.user);
    setExpired(false);
    setDeleted(false);
  };

  // A shared chat's page is for anyone, signed in or not.
  if (token) return <SharedPage token={token} user={expired ? null : user} onSignedIn={signedIn} />;
  if (user === undefined) return <div className="splash" aria-label="Loading" />;
  if (user === null || expired) {
    return (
      <AuthScreen
        onSignedIn={signedIn}
        notice={
          deleted
            ? "Your account was deleted."
            : expired
              ? "Your session has ended. Sign in again to go on; what you typed is kept."
              : undefined
        }
      />
    );
  }
  return (
    <Workspace
      user={user}
      onUser={setUser}
      onDeleted={() => {
        setDeleted(true);
        setUser(null);
      }}
    />
  );
}

function Workspace({
  user,
  onUser,
  onDeleted,
}: {
  user: User;
  onUser(user: User | null): void;
  onDeleted(): void;
}) {
  const [location, navigate] = useLocation();
  const conversationId = CONVERSATION_PATH.exec(location)?.[1]?.toLowerCase() ?? null;
  const temporary = location === TEMPORARY_PATH;
  const list = useConversations();
  const imported = useRef(false); // an import finished while Settings was open
  const models = useModels();
  const [model, setModel] = useState<string | null>(user.preferences.default_model || null);
  const [sidebarOpen, setSidebarOpen] = useState(() => !window.matchMedia(NARROW).matches);
  const [dialog, setDialog] = useState<"settings" | "trash" | "shortcuts" | null>(null);
  const [toast, setToast] = useState<ToastMessage | null>(null);
  const composerRef = useRef<HTMLTextAreaElement>(null);
  const searchRef = useRef<HTMLInputElement>(null);
  const chatRef = useRef<ChatController>(null);
  const disabledEndpoints = useDisabledEndpoints();

  useEffect(preloadMarkdown, []);
  useEffect(() => {
    if (models.length) setModel((chosen) => (chosen && models.some((m) => m.id === chosen) ? chosen : models[0]!.id));
  }, [models]);

  const notify = useCallback((text: string, action?: ToastMessage["action"]) => setToast({ id: Date.now(), text, action }), []);
  const dismiss = useCallback(() => setToast(null), []);
  const narrow = () => window.matchMedia(NARROW).matches;

  const newChat = useCallback(() => {
    navigate("/");
    if (narrow()) setSidebarOpen(false);
    requestAnimationFrame(() => composerRef.current?.focus());
  }, [navigate]);

  const toggleTemporary = useCallback(
    (on: boolean) => {
      navigate(on ? TEMPORARY_PATH : "/");
      requestAnimationFrame(() => composerRef.current?.focus());
    },
    [navigate],
  );

  const picked = useCallback(() => {
    if (narrow()) setSidebarOpen(false);
  }, []);

  useShortcuts({
    newChat,
    focusComposer: () => composerRef.current?.focus(),
    search: () => {
      setSidebarOpen(true);
      requestAnimationFrame(() => searchRef.current?.focus());
    },
    stop: () => (chatRef.current?.streaming ? void chatRef.current.stop() : undefined),
    toggleSidebar: () => setSidebarOpen((open) => !open),
    showShortcuts: () => setDialog("shortcuts"),
  });

  const change = async (conversation: Conversation, changes: Partial<Pick<Conversation, "title" | "pinned" | "archived">>) => {
    try {
      const updated = await api.updateConversation(conversation.id, changes);
      if (updated.archived) list.remove(updated.id);
      else list.upsert(updated);
      return updated;
    } catch (error) {
      notify(error instanceof api.ApiError ? error.detail || error.title : "That did not work. Try again.");
      return null;
    }
  };

  const remove = async (conversation: Conversation) => {
    try {
      await api.deleteConversation(conversation.id);
    } catch {
      notify("The chat could not be deleted. Try again.");
      return;
    }
    list.remove(conversation.id);
    if (conversation.id === conversationId) navigate("/");
    notify("Chat moved to the trash.", {
      label: "Undo",
      run: () => void api.restoreConversation(conversation.id).then(list.upsert),
    });
  };

  const archive = async (conversation: Conversation) => {
    if (!(await change(conversation, { archived: true }))) return;
    if (conversation.id === conversationId) navigate("/");
    notify("Chat archived.", {
      label: "Undo",
      run: () => void api.updateConversation(conversation.id, { archived: false }).then(list.upsert),
    });
  };

  const logout = async (everywhere: boolean) => {
    await (everywhere ? api.logoutAll() : api.logout()).catch(() => undefined);
    api.clearSession();
    clearTemporary();
    onUser(null);
    navigate("/");
  };

  return (
    <div className={sidebarOpen ? "app with-sidebar" : "app"}>
      <a className="skip-link" href="#composer" onClick={() => composerRef.current?.focus()}>
        Skip to the message box
      </a>
      <Sidebar
        list={list}
        activeId={conversationId}
        user={user}
        open={sidebarOpen}
        searchRef={searchRef}
        onNewChat={newChat}
        onPicked={picked}
        onClose={() => setSidebarOpen(false)}
        onRename={(c, title) => void change(c, { title })}
        onPin={(c) => void change(c, { pinned: !c.pinned })}
        onArchive={(c) => void archive(c)}
        onDelete={(c) => void remove(c)}
        onOpenSettings={() => setDialog("settings")}
        settingsAlert={disabledEndpoints.alert}
        onOpenTrash={() => setDialog("trash")}
        onOpenShortcuts={() => setDialog("shortcuts")}
        onLogout={() => void logout(false)}
      />
      {sidebarOpen && <div className="scrim" aria-hidden="true" onClick={() => setSidebarOpen(false)} />}
      <ChatView
        conversationId={conversationId}
        temporary={temporary}
        onTemporary={toggleTemporary}
        userId={user.id}
        models={models}
        model={model}
        onModel={setModel}
        sidebarOpen={sidebarOpen}
        onOpenSidebar={() => setSidebarOpen(true)}
        onNewChat={newChat}
        onCreated={(conversation) => {
          list.upsert(conversation);
          navigate(`/c/${conversation.id}`);
        }}
        onChanged={list.merge}
        composerRef={composerRef}
        chatRef={chatRef}
      />
      <SettingsDialog
        open={dialog === "settings"}
        user={user}
        models={models}
        onClose={() => {
          setDialog(null);
          disabledEndpoints.refresh();
          // persist_history projects an import's chats just after it is done: read them again.
          if (imported.current) list.reload();
          imported.current = false;
        }}
        onImported={() => {
          imported.current = true;
          list.reload();
        }}
        onSaved={(saved) => {
          onUser(saved);
          if (saved.preferences.default_model) setModel(saved.preferences.default_model);
        }}
        onLogoutEverywhere={() => void logout(true)}
        onAccountDeleted={() => {
          clearTemporary();
          onDeleted();
          navigate("/");
        }}
        disabledEndpoints={disabledEndpoints.count}
        onEndpoints={disabledEndpoints.seen}
      />
      <TrashDialog open={dialog === "trash"} onClose={() => setDialog(null)} onRestored={list.upsert} />
      <ShortcutsDialog open={dialog === "shortcuts"} onClose={() => setDialog(null)} />
      <Toast toast={toast} onDismiss={dismiss} />
    </div>
  );
}
