import { lazy, Suspense, useEffect, useState } from "react";
import { useLocation } from "wouter";
import { MessageSquarePlus } from "lucide-react";
import { ApiError, failureText } from "../api/client";
import { AuthScreen } from "../auth/AuthScreen";
import { formatTime } from "../settings/Time";
import type { Session, User } from "../types";
import { continueShared, readShared, type SharedConversation, type SharedMessage } from "./api";
import "./share.css";

const Markdown = lazy(() => import("../markdown/Markdown"));

interface Props {
  token: string;
  /** undefined while the app is still finding out whether someone is signed in. */
  user: User | null | undefined;
  onSignedIn(session: Session): void;
}

type Loaded = { state: "loading" } | { state: "shown"; shared: SharedConversation } | { state: "gone" } | { state: "failed"; detail: string };

/** Asks search engines to leave the page out while it is on screen. */
function useNoIndex() {
  useEffect(() => {
    const meta = document.createElement("meta");
    meta.name = "robots";
    meta.content = "noindex";
    document.head.append(meta);
    return () => meta.remove();
  }, []);
}

/** `/s/<token>`: a shared conversation, read-only, for anyone; signed in, it can be continued. */
export function SharedPage({ token, user, onSignedIn }: Props) {
  const [, navigate] = useLocation();
  const [loaded, setLoaded] = useState<Loaded>({ state: "loading" });
  // Continue was asked for while signed out: it goes on once signed in.
  const [continuing, setContinuing] = useState(false);
  const [signingIn, setSigningIn] = useState(false);
  const [error, setError] = useState("");
  useNoIndex();

  useEffect(() => {
    let live = true;
    setLoaded({ state: "loading" });
    readShared(token)
      .then((shared) => live && setLoaded({ state: "shown", shared }))
      .catch((failure) => {
        if (!live) return;
        if (failure instanceof ApiError && failure.status === 404) setLoaded({ state: "gone" });
        else setLoaded({ state: "failed", detail: failureText(failure, "This shared chat could not be loaded.") });
      });
    return () => {
      live = false;
    };
  }, [token]);

  const title = loaded.state === "shown" ? loaded.shared.title || "Shared chat" : "Shared chat";
  useEffect(() => {
    document.title = `${title} · chatfn`;
  }, [title]);

  useEffect(() => {
    if (!continuing || !user) return;
    let live = true;
    continueShared(token)
      .then(({ conversation_id }) => live && navigate(`/c/${conversation_id}`))
      .catch((failure) => {
        if (!live) return;
        setContinuing(false);
        setError(failureText(failure, "This chat could not be copied into your account. Try again."));
      });
    return () => {
      live = false;
    };
  }, [continuing, user, token, navigate]);

  const start = () => {
    setError("");
    setContinuing(true);
    if (!user) setSigningIn(true);
  };

  if (signingIn && !user) {
    return (
      <AuthScreen
        notice="Sign in or create an account to continue this chat in your own history."
        onSignedIn={(session) => {
          setSigningIn(false);
          onSignedIn(session);
        }}
      />
    );
  }

  return (
    <main className="shared-page" aria-label="Shared chat">
      <header className="shared-header">
        <a className="shared-brand" href="/">
          chatfn
        </a>
        <span className="hint">A shared chat, read-only</span>
      </header>
      {loaded.state === "loading" && <div className="splash" aria-label="Loading" />}
      {loaded.state === "gone" && (
        <div className="chat-problem" role="alert">
          <h1>This link was revoked or never existed</h1>
          <p>Whoever shared it may have taken it back, or deleted the chat.</p>
          <a className="primary button-link" href="/">
            Go to chatfn
          </a>
        </div>
      )}
      {loaded.state === "failed" && (
        <div className="chat-problem" role="alert">
          <h1>This shared chat could not be loaded</h1>
          <p>{loaded.detail}</p>
        </div>
      )}
      {loaded.state === "shown" && (
        <>
          <div className="shared-intro">
            <h1>{title}</h1>
            <p className="hint">Shared {formatTime(loaded.shared.created_at)}. Later messages are not part of it.</p>
          </div>
          <div className="shared-messages">
            {loaded.shared.messages.map((message, index) => (
              <SharedItem key={index} message={message} />
            ))}
          </div>
          <footer className="shared-footer">
            {error && (
              <p className="form-error" role="alert">
                {error}
              </p>
            )}
            <button type="button" className="primary" onClick={start} disabled={continuing || user === undefined}>
              <MessageSquarePlus size={18} aria-hidden="true" /> {continuing ? "Copying…" : "Continue this conversation"}
            </button>
            <p className="hint">{user ? "A copy goes into your chats; the original stays as it is." : "You will be asked to sign in first."}</p>
          </footer>
        </>
      )}
    </main>
  );
}

function SharedItem({ message }: { message: SharedMessage }) {
  if (message.role === "system") {
    return (
      <article className="message message-system" aria-label="System prompt">
        <div className="system-prompt">
          <span className="system-label">System</span>
          <div className="system-text">{message.content}</div>
        </div>
      </article>
    );
  }
  if (message.role === "user") {
    return (
      <article className="message message-user" aria-label="They said">
        <div className="bubble">{message.content}</div>
      </article>
    );
  }
  return (
    <article className="message message-assistant" aria-label="Assistant said">
      <div className="reply">
        <Suspense fallback={<div className="markdown plain">{message.content}</div>}>
          <Markdown text={message.content} />
        </Suspense>
      </div>
    </article>
  );
}
