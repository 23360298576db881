import { useEffect, useRef } from "react";
import { Dialog } from "../ui/Dialog";

interface Actions {
  newChat(): void;
  focusComposer(): void;
  search(): void;
  stop(): void;
  toggleSidebar(): void;
  showShortcuts(): void;
}

const mod = navigator.platform.startsWith("Mac") ? "⌘" : "Ctrl";

const SHORTCUTS: { keys: string[]; label: string; action: keyof Actions; matches(e: KeyboardEvent): boolean }[] = [
  { keys: [mod, "Shift", "O"], label: "New chat", action: "newChat", matches: (e) => primary(e) && e.shiftKey && e.code === "KeyO" },
  { keys: ["Shift", "Esc"], label: "Focus the message box", action: "focusComposer", matches: (e) => e.shiftKey && e.key === "Escape" },
  { keys: [mod, "K"], label: "Search chats", action: "search", matches: (e) => primary(e) && !e.shiftKey && e.code === "KeyK" },
  { keys: ["Esc"], label: "Stop the answer", action: "stop", matches: (e) => !e.shiftKey && e.key === "Escape" },
  { keys: [mod, "Shift", "S"], label: "Show or hide the sidebar", action: "toggleSidebar", matches: (e) => primary(e) && e.shiftKey && e.code === "KeyS" },
  { keys: [mod, "/"], label: "Keyboard shortcuts", action: "showShortcuts", matches: (e) => primary(e) && e.key === "/" },
];

function primary(event: KeyboardEvent): boolean {
  return event.ctrlKey || event.metaKey;
}

export function useShortcuts(actions: Actions): void {
  const latest = useRef(actions);
  latest.current = actions;
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      // Esc belongs to an open dialog or menu first.
      if (event.key === "Escape" && !event.shiftKey && document.querySelector("dialog[open]")) return;
      const shortcut = SHORTCUTS.find((s) => s.matches(event));
      if (!shortcut) return;
      event.preventDefault();
      latest.current[shortcut.action]();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);
}

export function ShortcutsDialog({ open, onClose }: { open: boolean; onClose(): void }) {
  return (
    <Dialog title="Keyboard shortcuts" open={open} onClose={onClose}>
      <dl className="shortcuts">
        {SHORTCUTS.map((shortcut) => (
          <div key={shortcut.action} className="shortcut">
            <dt>{shortcut.label}</dt>
            <dd>
              {shortcut.keys.map((key) => (
                <kbd key={key}>{key}</kbd>
              ))}
            </dd>
          </div>
        ))}
        <div className="shortcut">
          <dt>New line in a message</dt>
          <dd>
            <kbd>Shift</kbd>
            <kbd>Enter</kbd>
          </dd>
        </div>
      </dl>
    </Dialog>
  );
}
