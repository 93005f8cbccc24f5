import { Link, useParams } from "react-router";

/** `/files/a/b` → ["a", "b"]. */
export function splitPath(splat: string | undefined): string[] {
  return (splat ?? "").split("/").filter(Boolean);
}

function folderLink(segments: string[]): string {
  return ["/files", ...segments.map(encodeURIComponent)].join("/");
}

/** Placeholder of the Files tab: the path comes from the URL, so deep links work. */
export function FilesPage() {
  const segments = splitPath(useParams()["*"]);
  const path = `/${segments.join("/")}`;

  return (
    <section className="page">
      <header className="page-header">
        <h1>Files</h1>
      </header>
      <nav className="breadcrumbs" aria-label="Path">
        <Link to="/files">Home</Link>
        {segments.map((segment, index) => (
          <span key={index}>
            <span className="breadcrumb-sep" aria-hidden="true">
              /
            </span>
            {index === segments.length - 1 ? (
              <span aria-current="page">{segment}</span>
            ) : (
              <Link to={folderLink(segments.slice(0, index + 1))}>{segment}</Link>
            )}
          </span>
        ))}
      </nav>
      <p className="muted">
        Path: <code data-testid="files-path">{path}</code>
      </p>
      <div className="empty">
        <p className="empty-title">This folder is empty</p>
        <p className="muted">The file browser is coming; upload with <code>kiln cp</code> meanwhile.</p>
      </div>
    </section>
  );
}
