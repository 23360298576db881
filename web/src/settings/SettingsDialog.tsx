import { useEffect, useId, useState, type FormEvent, type KeyboardEvent } from "react";
import * as api from "../api/client";
import { ModelOptions } from "../ui/ModelOptions";
import type { Endpoint, Model, Theme, User } from "../types";
import { Dialog } from "../ui/Dialog";
import { SharedLinks } from "../share/SharedLinks";
import { ApiKeys } from "./ApiKeys";
import { DataSettings } from "./DataSettings";
import { DeleteAccount } from "./DeleteAccount";
import { Integrations } from "./Integrations";

interface Props {
  open: boolean;
  user: User;
  models: Model[];
  onClose(): void;
  onSaved(user: User): void;
  onLogoutEverywhere(): void;
  /** The account was deleted: its session is over. */
  onAccountDeleted(): void;
  /** An import finished: its chats join the history. */
  onImported(): void;
  /** Webhook endpoints chatfn disabled: a dot on the Integrations tab. */
  disabledEndpoints: number;
  onEndpoints(endpoints: Endpoint[]): void;
}

const THEMES: { value: Theme; label: string }[] = [
  { value: "system", label: "System" },
  { value: "light", label: "Light" },
  { value: "dark", label: "Dark" },
];

type Tab = "general" | "integrations" | "api-keys" | "shared-links" | "data";
const TABS: { value: Tab; label: string }[] = [
  { value: "general", label: "General" },
  { value: "integrations", label: "Integrations" },
  { value: "api-keys", label: "API keys" },
  { value: "shared-links", label: "Shared links" },
  { value: "data", label: "Data" },
];

export function SettingsDialog({
  open,
  user,
  models,
  onClose,
  onSaved,
  onLogoutEverywhere,
  onAccountDeleted,
  onImported,
  disabledEndpoints,
  onEndpoints,
}: Props) {
  const [displayName, setDisplayName] = useState(user.display_name);
  const [theme, setTheme] = useState<Theme>(user.preferences.theme);
  const [instructions, setInstructions] = useState(user.preferences.custom_instructions);
  const [defaultModel, setDefaultModel] = useState(user.preferences.default_model);
  const [error, setError] = useState("");
  const [tab, setTab] = useState<Tab>("general");
  // A tab loads on its first visit and then stays mounted (hidden), so a secret or key
  // shown once survives a look at another tab.
  const [seen, setSeen] = useState<ReadonlySet<Tab>>(() => new Set(["general"]));
  const ids = useId();

  useEffect(() => {
    if (!open) return;
    setTab("general");
    setSeen(new Set(["general"]));
    setDisplayName(user.display_name);
    setTheme(user.preferences.theme);
    setInstructions(user.preferences.custom_instructions);
    setDefaultModel(user.preferences.default_model);
    setError("");
  }, [open, user]);

  const save = async (event: FormEvent) => {
    event.preventDefault();
    try {
      const saved = await api.updateMe({
        display_name: displayName.trim() || user.display_name,
        theme,
        custom_instructions: instructions,
        default_model: defaultModel,
      });
      onSaved(saved);
      onClose();
    } catch (failure) {
      setError(api.failureText(failure, "Your settings were not saved."));
    }
  };

  const choose = (next: Tab) => {
    setTab(next);
    setSeen((before) => (before.has(next) ? before : new Set([...before, next])));
  };
  // The tabs pattern of WAI-ARIA: arrows move between tabs, and the one chosen is the one in the Tab order.
  const tabKeys = (event: KeyboardEvent) => {
    const at = TABS.findIndex((t) => t.value === tab);
    const to = { ArrowLeft: at - 1, ArrowRight: at + 1, Home: 0, End: TABS.length - 1 }[event.key];
    if (to === undefined) return;
    event.preventDefault();
    const next = TABS[(to + TABS.length) % TABS.length]!.value;
    choose(next);
    document.getElementById(`${ids}-${next}-tab`)?.focus();
  };

  return (
    <Dialog title="Settings" open={open} onClose={onClose} wide>
      <div className="tabs" role="tablist" aria-label="Settings sections" onKeyDown={tabKeys}>
        {TABS.map((t) => (
          <button
            key={t.value}
            type="button"
            role="tab"
            id={`${ids}-${t.value}-tab`}
            className="tab"
            aria-selected={tab === t.value}
            aria-controls={`${ids}-${t.value}`}
            tabIndex={tab === t.value ? 0 : -1}
            onClick={() => choose(t.value)}
          >
            {t.label}
            {t.value === "integrations" && disabledEndpoints > 0 && (
              <>
                <span className="alert-dot" aria-hidden="true" />
                <span className="visually-hidden"> ({disabledEndpoints} disabled)</span>
              </>
            )}
          </button>
        ))}
      </div>
      <div role="tabpanel" id={`${ids}-general`} aria-labelledby={`${ids}-general-tab`} hidden={tab !== "general"}>
        <form className="settings" onSubmit={save}>
          <label>
            Name
            <input value={displayName} maxLength={100} onChange={(e) => setDisplayName(e.target.value)} />
          </label>
          <fieldset className="theme-choice">
            <legend>Theme</legend>
            {THEMES.map((option) => (
              <label key={option.value} className="radio">
                <input type="radio" name="theme" value={option.value} checked={theme === option.value} onChange={() => setTheme(option.value)} />
                {option.label}
              </label>
            ))}
          </fieldset>
          <label>
            Default model
            <select value={defaultModel} onChange={(e) => setDefaultModel(e.target.value)}>
              <option value="">The server's default</option>
              <ModelOptions models={models} />
            </select>
          </label>
          <label>
            Custom instructions
            <span className="hint">What should the assistant know about you, and how should it answer?</span>
            <textarea rows={5} maxLength={4000} value={instructions} onChange={(e) => setInstructions(e.target.value)} />
          </label>
          {error && (
            <p className="form-error" role="alert">
              {error}
            </p>
          )}
          <div className="settings-actions">
            <button type="button" className="danger-button" onClick={onLogoutEverywhere}>
              Log out everywhere
            </button>
            <button type="submit" className="primary">
              Save
            </button>
          </div>
        </form>
        <DeleteAccount onDeleted={onAccountDeleted} />
      </div>
      <div role="tabpanel" id={`${ids}-integrations`} aria-labelledby={`${ids}-integrations-tab`} hidden={tab !== "integrations"}>
        {seen.has("integrations") && <Integrations onEndpoints={onEndpoints} />}
      </div>
      <div role="tabpanel" id={`${ids}-api-keys`} aria-labelledby={`${ids}-api-keys-tab`} hidden={tab !== "api-keys"}>
        {seen.has("api-keys") && <ApiKeys />}
      </div>
      <div role="tabpanel" id={`${ids}-shared-links`} aria-labelledby={`${ids}-shared-links-tab`} hidden={tab !== "shared-links"}>
        {seen.has("shared-links") && <SharedLinks />}
      </div>
      <div role="tabpanel" id={`${ids}-data`} aria-labelledby={`${ids}-data-tab`} hidden={tab !== "data"}>
        {seen.has("data") && <DataSettings onImported={onImported} />}
      </div>
    </Dialog>
  );
}
