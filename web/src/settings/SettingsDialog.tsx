import { useEffect, useState, type FormEvent } from "react";
import * as api from "../api/client";
import { ModelOptions } from "../ui/ModelOptions";
import type { Model, Theme, User } from "../types";
import { Dialog } from "../ui/Dialog";

interface Props {
  open: boolean;
  user: User;
  models: Model[];
  onClose(): void;
  onSaved(user: User): void;
  onLogoutEverywhere(): void;
}

const THEMES: { value: Theme; label: string }[] = [
  { value: "system", label: "System" },
  { value: "light", label: "Light" },
  { value: "dark", label: "Dark" },
];

export function SettingsDialog({ open, user, models, onClose, onSaved, onLogoutEverywhere }: Props) {
  const [displayName, setDisplayName] = useState(user.display_name);
  const [theme, setTheme] = useState<Theme>(user.preferences.theme);
  const [instructions, setInstructions] = useState(user.preferences.custom_instructions);
  const [defaultModel, setDefaultModel] = useState(user.preferences.default_model);
  const [error, setError] = useState("");

  useEffect(() => {
    if (!open) return;
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
      setError(failure instanceof api.ApiError ? failure.detail || failure.title : "Your settings were not saved.");
    }
  };

  return (
    <Dialog title="Settings" open={open} onClose={onClose}>
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
    </Dialog>
  );
}
