import { useState } from "react";

export interface Selection {
  /** Selected keys that are still among `keys`. */
  selected: ReadonlySet<string>;
  has: (key: string) => boolean;
  toggle: (key: string) => void;
  /** Only this one (a plain click on a row). */
  only: (key: string) => void;
  /** All of `keys`, or none. */
  setAll: (on: boolean) => void;
  clear: () => void;
}

/**
 * Checked rows of one folder. The selection belongs to `scope` (the folder's URI): another folder
 * starts with none; keys that left the listing (deleted, moved) drop out by themselves.
 */
export function useSelection(scope: string, keys: readonly string[]): Selection {
  const [state, setState] = useState<{ scope: string; keys: ReadonlySet<string> }>({ scope, keys: new Set() });
  const present = new Set(keys);
  const selected: ReadonlySet<string> = new Set(state.scope === scope ? [...state.keys].filter((key) => present.has(key)) : []);
  const set = (next: Iterable<string>) => setState({ scope, keys: new Set(next) });
  return {
    selected,
    has: (key) => selected.has(key),
    toggle: (key) => {
      const next = new Set(selected);
      if (next.has(key)) next.delete(key);
      else next.add(key);
      set(next);
    },
    only: (key) => set([key]),
    setAll: (on) => set(on ? keys : []),
    clear: () => set([]),
  };
}
