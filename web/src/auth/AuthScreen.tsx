import { useState, type FormEvent } from "react";
import * as api from "../api/client";
import { ApiError } from "../api/client";
import type { Session } from "../types";

interface Props {
  onSignedIn(session: Session): void;
  /** Shown above the form, e.g. when a session ended while in use. */
  notice?: string;
}

export function AuthScreen({ onSignedIn, notice }: Props) {
  const [mode, setMode] = useState<"login" | "register">("login");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [displayName, setDisplayName] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError("");
    try {
      const session =
        mode === "login" ? await api.login(email, password) : await api.register(email, password, displayName);
      onSignedIn(session);
    } catch (failure) {
      setError(failure instanceof ApiError ? failure.detail || failure.title : "Something went wrong. Try again.");
    } finally {
      setBusy(false);
    }
  }

  const registering = mode === "register";
  return (
    <main className="auth">
      <form className="auth-card" onSubmit={submit} aria-labelledby="auth-title">
        <div className="brand" aria-hidden="true">
          <img src="/favicon.svg" alt="" width={40} height={40} />
        </div>
        <h1 id="auth-title">{registering ? "Create your account" : "Welcome back"}</h1>
        {notice && <p className="auth-notice">{notice}</p>}
        {registering && (
          <label>
            Name
            <input value={displayName} onChange={(e) => setDisplayName(e.target.value)} autoComplete="name" maxLength={100} />
          </label>
        )}
        <label>
          Email
          <input type="email" required value={email} onChange={(e) => setEmail(e.target.value)} autoComplete="email" />
        </label>
        <label>
          Password
          <input
            type="password"
            required
            minLength={8}
            maxLength={256}
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            autoComplete={registering ? "new-password" : "current-password"}
          />
        </label>
        {error && (
          <p className="form-error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" className="primary" disabled={busy}>
          {busy ? "One moment…" : registering ? "Sign up" : "Log in"}
        </button>
        <p className="auth-switch">
          {registering ? "Already have an account?" : "New here?"}{" "}
          <button
            type="button"
            className="link-button"
            onClick={() => {
              setMode(registering ? "login" : "register");
              setError("");
            }}
          >
            {registering ? "Log in" : "Create an account"}
          </button>
        </p>
      </form>
    </main>
  );
}
