import { useCallback, useEffect, useRef, useState } from "react";

const SHOWN_MS = 1500;

/** Copies text to the clipboard; `copied` is true for a moment after it worked. */
export function useCopy(): [copied: boolean, copy: (text: string) => void] {
  const [copied, setCopied] = useState(false);
  const timer = useRef<number | undefined>(undefined);
  useEffect(() => () => window.clearTimeout(timer.current), []);

  const copy = useCallback((text: string) => {
    // clipboard is undefined outside secure contexts; a refused write just does nothing.
    navigator.clipboard?.writeText(text).then(
      () => {
        setCopied(true);
        window.clearTimeout(timer.current);
        timer.current = window.setTimeout(() => setCopied(false), SHOWN_MS);
      },
      () => {},
    );
  }, []);
  return [copied, copy];
}
