import { useEffect } from "react";
import type { Theme } from "./types";

const DARK = "(prefers-color-scheme: dark)";

/** Applies the preference to the root element, following the system while it is "system". */
export function useTheme(theme: Theme): void {
  useEffect(() => {
    const query = window.matchMedia(DARK);
    const apply = () => {
      const dark = theme === "dark" || (theme === "system" && query.matches);
      document.documentElement.dataset.theme = dark ? "dark" : "light";
    };
    apply();
    query.addEventListener("change", apply);
    return () => query.removeEventListener("change", apply);
  }, [theme]);
}
