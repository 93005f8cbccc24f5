import { useId, useState, type FormEvent, type KeyboardEvent } from "react";
import {
  LEVELS,
  principalString,
  useAcl,
  usePrincipals,
  useRevoke,
  useShare,
  type Grant,
  type Level,
  type Principal,
} from "@/features/sharing/api";
import { errorMessage } from "@/lib/api";
import { useDebouncedValue } from "@/lib/useDebouncedValue";
import { DataTable, type Column } from "./DataTable";
import { PrincipalOptions } from "./PrincipalOptions";
import { Dialog } from "./Dialog";

export interface ShareDialogProps {
  /** Any resource URI, long (`job://default/bob/x`) or short (`job:`, `storage:data`). */
  uri: string;
  open: boolean;
  onClose: () => void;
}

/**
 * Who has access to `uri`, and sharing it with a user or a group: one dialog for jobs, files,
 * flows and images alike (DESIGN.md §3).
 */
export function ShareDialog({ uri, open, onClose }: ShareDialogProps) {
  return (
    <Dialog open={open} onClose={onClose} title="Share" label="Share" size="lg">
      <ShareDialogBody uri={uri} />
    </Dialog>
  );
}

function ShareDialogBody({ uri }: { uri: string }) {
  const acl = useAcl(uri);
  const share = useShare();
  const revoke = useRevoke();
  const [level, setLevel] = useState<Level>("read");
  const [text, setText] = useState("");
  const [selected, setSelected] = useState<Principal | null>(null);

  // Only a manager may share or revoke (when the server does not say, let it decide).
  const canManage = acl.data !== undefined && (acl.data.my_level == null || acl.data.my_level === "manage");
  const canonical = acl.data?.uri ?? uri;

  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    const principal = selected ? principalString(selected) : text.trim();
    if (!principal) return;
    revoke.reset();
    share.mutate(
      { uri, principal, level },
      {
        onSuccess: () => {
          setText("");
          setSelected(null);
        },
      },
    );
  };

  const columns: Column<Grant>[] = [
    {
      key: "principal",
      header: "Principal",
      render: (grant) => <span className="principal-name">{grant.principal.name}</span>,
    },
    { key: "kind", header: "Kind", render: (grant) => <span className="muted">{grant.principal.kind}</span>, width: "6rem" },
    { key: "level", header: "Level", render: (grant) => <span className={`level level-${grant.level}`}>{grant.level}</span>, width: "6rem" },
    {
      key: "source",
      header: "",
      className: "cell-actions",
      render: (grant) =>
        grant.inherited ? (
          <span className="inherited" title={`Granted on ${grant.uri}`}>
            inherited <span className="muted">from {grant.uri}</span>
          </span>
        ) : canManage ? (
          <button
            type="button"
            className="button button-small"
            disabled={revoke.isPending && revoke.variables?.principal === principalString(grant.principal)}
            onClick={() => {
              share.reset();
              revoke.mutate({ uri: grant.uri, principal: principalString(grant.principal) });
            }}
          >
            Revoke
          </button>
        ) : null,
    },
  ];

  return (
    <div className="share">
      <p className="share-uri">
        <code>{canonical}</code>
      </p>

      {acl.isPending ? null : canManage ? (
        <form className="share-form" onSubmit={onSubmit}>
          <PrincipalInput
            value={text}
            onChange={(value) => {
              setText(value);
              setSelected(null);
            }}
            onSelect={(principal) => {
              setText(principal.name);
              setSelected(principal);
            }}
          />
          <select aria-label="Level" className="select" value={level} onChange={(event) => setLevel(event.target.value as Level)}>
            {LEVELS.map((value) => (
              <option key={value} value={value}>
                {value}
              </option>
            ))}
          </select>
          <button type="submit" className="button button-primary" disabled={share.isPending || !text.trim()}>
            Share
          </button>
        </form>
      ) : acl.data ? (
        <p className="muted">Sharing this needs the manage level; you can see who has access.</p>
      ) : null}
      {share.isError ? (
        <p className="form-error" role="alert">
          {errorMessage(share.error)}
        </p>
      ) : null}
      {revoke.isError ? (
        <p className="form-error" role="alert">
          {errorMessage(revoke.error)}
        </p>
      ) : null}

      <h3 className="section-title">Who has access</h3>
      {acl.isError ? (
        <p className="form-error" role="alert">
          {errorMessage(acl.error)}
        </p>
      ) : (
        <>
          {acl.data ? (
            <p className="share-owner">
              Owner: <strong>{acl.data.owner}</strong>
              {acl.data.my_level ? <span className="muted"> · your level: {acl.data.my_level}</span> : null}
            </p>
          ) : null}
          <DataTable
            columns={columns}
            rows={acl.data?.grants}
            loading={acl.isPending}
            rowKey={(grant) => `${grant.uri} ${principalString(grant.principal)}`}
            rowProps={(grant) => ({ "data-testid": "acl-row", "data-inherited": String(grant.inherited) })}
            empty="Not shared with anyone yet."
            caption="Who has access"
          />
        </>
      )}
    </div>
  );
}

/** The principal field: free text (`alice`, `group:ml-team`) with suggestions from the server. */
function PrincipalInput({
  value,
  onChange,
  onSelect,
}: {
  value: string;
  onChange: (value: string) => void;
  onSelect: (principal: Principal) => void;
}) {
  const listId = useId();
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(-1);
  const query = useDebouncedValue(value, 250);
  const principals = usePrincipals(query);
  const options = value.trim() ? (principals.data ?? []) : [];
  const expanded = open && options.length > 0;

  const pick = (principal: Principal) => {
    onSelect(principal);
    setOpen(false);
    setActive(-1);
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
    } else if (event.key === "Enter" && expanded && active >= 0 && active < options.length) {
      event.preventDefault();
      pick(options[active]);
    } else if (event.key === "Escape" && expanded) {
      // Close the suggestions, not the dialog.
      event.preventDefault();
      event.stopPropagation();
      setOpen(false);
    }
  };

  return (
    <div className="combobox">
      <input
        className="input"
        type="text"
        role="combobox"
        aria-label="User or group"
        aria-autocomplete="list"
        aria-expanded={expanded}
        aria-controls={listId}
        aria-activedescendant={expanded && active >= 0 ? `${listId}-${active}` : undefined}
        placeholder="User or group"
        autoComplete="off"
        autoFocus
        value={value}
        onChange={(event) => {
          onChange(event.target.value);
          setOpen(true);
          setActive(-1);
        }}
        onFocus={() => setOpen(true)}
        onBlur={() => setOpen(false)}
        onKeyDown={onKeyDown}
      />
      {expanded ? <PrincipalOptions listId={listId} options={options} active={active} onPick={pick} /> : null}
    </div>
  );
}
