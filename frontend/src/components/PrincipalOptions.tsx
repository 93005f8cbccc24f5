import { principalString, type Principal } from "@/features/sharing/api";

interface PrincipalOptionsProps {
  listId: string;
  options: Principal[];
  active: number;
  onPick: (principal: Principal) => void;
}

/** The suggestion list of a user-or-group combobox (ShareDialog, PrincipalPicker). */
export function PrincipalOptions({ listId, options, active, onPick }: PrincipalOptionsProps) {
  return (
    <ul className="combobox-list" role="listbox" id={listId} aria-label="Suggestions">
      {options.map((principal, index) => (
        <li
          key={principalString(principal)}
          id={`${listId}-${index}`}
          role="option"
          aria-selected={index === active}
          className={index === active ? "active" : undefined}
          onMouseDown={(event) => event.preventDefault()}
          onClick={() => onPick(principal)}
        >
          <span>{principal.label || principal.name}</span>
          <span className="muted">
            {principal.kind === "group" ? "group" : "user"} · {principal.name}
          </span>
        </li>
      ))}
    </ul>
  );
}
