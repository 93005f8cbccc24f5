import { useId, useState, type KeyboardEvent } from "react";
import { principalString, usePrincipals, type Principal } from "@/features/sharing/api";
import { useDebouncedValue } from "@/lib/useDebouncedValue";
import "./PrincipalPicker.css";
import { PrincipalOptions } from "./PrincipalOptions";

export interface PrincipalPickerProps {
  /** Principals as the API takes them: `user:alice`, `group:ml-team`, or typed free text (`alice`). */
  value: string[];
  onChange: (value: string[]) => void;
  /** Accessible name of the text input. */
  label: string;
  placeholder?: string;
  id?: string;
  invalid?: boolean;
  describedBy?: string;
}

/** `user:alice` → `alice`; `group:ml` → `ml (group)`. */
function chipLabel(principal: string): string {
  if (principal.startsWith("user:")) return principal.slice(5);
  if (principal.startsWith("group:")) return `${principal.slice(6)} (group)`;
  return principal;
}

/**
 * Several users or groups, picked with suggestions from `GET /api/v1/principals/` (the Share
 * dialog's autocomplete) or typed and added with Enter or a comma. Each pick is a chip with a
 * remove button.
 */
export function PrincipalPicker({ value, onChange, label, placeholder = "User or group", id, invalid, describedBy }: PrincipalPickerProps) {
  const listId = useId();
  const [text, setText] = useState("");
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(-1);
  const query = useDebouncedValue(text, 250);
  const principals = usePrincipals(query);
  const options = text.trim() ? (principals.data ?? []).filter((p) => !value.includes(principalString(p))) : [];
  const expanded = open && options.length > 0;

  const add = (principal: string) => {
    const clean = principal.trim();
    if (clean && !value.includes(clean)) onChange([...value, clean]);
    setText("");
    setActive(-1);
  };
  const pick = (principal: Principal) => {
    add(principalString(principal));
    setOpen(false);
  };

  const onKeyDown = (event: KeyboardEvent<HTMLInputElement>) => {
    if (event.key === "ArrowDown" && options.length > 0) {
      event.preventDefault();
      setOpen(true);
      setActive((i) => (i + 1) % options.length);
    } else if (event.key === "ArrowUp" && options.length > 0) {
      event.preventDefault();
      setOpen(true);
      setActive((i) => (i <= 0 ? options.length - 1 : i - 1));
    } else if (event.key === "Enter" || event.key === ",") {
      // Never submits the surrounding form: Enter here means "add this one".
      if (event.key === "Enter" && !text.trim()) return;
      event.preventDefault();
      if (expanded && active >= 0 && active < options.length) pick(options[active]);
      else add(text);
    } else if (event.key === "Backspace" && !text && value.length > 0) {
      onChange(value.slice(0, -1));
    } else if (event.key === "Escape" && expanded) {
      event.preventDefault();
      event.stopPropagation();
      setOpen(false);
    }
  };

  return (
    <div className="principal-picker">
      {value.length > 0 ? (
        <ul className="chips" aria-label={`${label}: chosen`}>
          {value.map((principal) => (
            <li key={principal} className="chip">
              <span>{chipLabel(principal)}</span>
              <button type="button" className="chip-remove" aria-label={`Remove ${chipLabel(principal)}`} onClick={() => onChange(value.filter((p) => p !== principal))}>
                ×
              </button>
            </li>
          ))}
        </ul>
      ) : null}
      <div className="combobox">
        <input
          id={id}
          className="input"
          type="text"
          role="combobox"
          aria-label={label}
          aria-autocomplete="list"
          aria-expanded={expanded}
          aria-controls={listId}
          aria-activedescendant={expanded && active >= 0 ? `${listId}-${active}` : undefined}
          aria-invalid={invalid || undefined}
          aria-describedby={describedBy}
          placeholder={placeholder}
          autoComplete="off"
          value={text}
          onChange={(event) => {
            setText(event.target.value);
            setOpen(true);
            setActive(-1);
          }}
          onFocus={() => setOpen(true)}
          onBlur={() => {
            setOpen(false);
            if (text.trim()) add(text);
          }}
          onKeyDown={onKeyDown}
        />
        {expanded ? <PrincipalOptions listId={listId} options={options} active={active} onPick={pick} /> : null}
      </div>
    </div>
  );
}
