import { useState } from "react";

/** The values ticked in a list of checkboxes, and how to tick or untick one. */
export function useChosen<T>(initial: Iterable<T>): [Set<T>, (value: T, on: boolean) => void] {
  const [chosen, setChosen] = useState(() => new Set(initial));
  const toggle = (value: T, on: boolean) =>
    setChosen((before) => {
      const after = new Set(before);
      if (on) after.add(value);
      else after.delete(value);
      return after;
    });
  return [chosen, toggle];
}
