import { Link, useNavigate } from "react-router";
import { DataTable, type Column } from "@/components/DataTable";
import { errorMessage } from "@/lib/api";
import { useStorageSharedWithMe } from "../api";
import { displayPath, filesRoute, locationFromUri } from "../paths";
import type { StorageGrant } from "../types";
import { FileIcon } from "./FileIcon";

function grantRoute(grant: StorageGrant): string | null {
  const location = locationFromUri(grant.uri);
  return location ? filesRoute(location) : null;
}

/** Storage others shared with me (or with a group of mine); a click browses it. */
export function SharedWithMe() {
  const shared = useStorageSharedWithMe();
  const navigate = useNavigate();

  const columns: Column<StorageGrant>[] = [
    {
      key: "path",
      header: "Path",
      render: (grant) => {
        const location = locationFromUri(grant.uri);
        const route = grantRoute(grant);
        return (
          <span className="file-name">
            <FileIcon type="dir" name="" />
            {route && location ? (
              <Link to={route} onClick={(event) => event.stopPropagation()}>
                {displayPath(location)}
              </Link>
            ) : (
              <code>{grant.uri}</code>
            )}
          </span>
        );
      },
    },
    { key: "owner", header: "Owner", width: "10rem", render: (grant) => locationFromUri(grant.uri)?.owner ?? "—" },
    { key: "level", header: "Level", width: "7rem", render: (grant) => <span className={`level level-${grant.level}`}>{grant.level}</span> },
    {
      key: "via",
      header: "Shared with",
      width: "10rem",
      render: (grant) => (grant.principal.kind === "group" ? `group ${grant.principal.name}` : "you"),
    },
  ];

  return (
    <div className="shared-with-me">
      {shared.isError ? (
        <p className="form-error" role="alert">
          {errorMessage(shared.error)}
        </p>
      ) : null}
      <DataTable
        columns={columns}
        rows={shared.data}
        loading={shared.isPending}
        rowKey={(grant) => `${grant.uri} ${grant.principal.kind}:${grant.principal.name}`}
        rowProps={(grant) => ({
          "data-testid": "shared-row",
          "data-uri": grant.uri,
          className: "clickable",
          onClick: () => {
            const route = grantRoute(grant);
            if (route) navigate(route);
          },
        })}
        empty="Nothing in storage is shared with you yet."
        caption="Shared with me"
      />
    </div>
  );
}
