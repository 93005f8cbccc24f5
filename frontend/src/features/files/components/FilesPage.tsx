import { Link, useParams, useSearchParams } from "react-router";
import { parseFilesPath } from "../paths";
import { useUploadLifecycle, useUploads } from "../upload/useUploads";
import { FolderView } from "./FolderView";
import { SharedWithMe } from "./SharedWithMe";
import { UploadPanel } from "./UploadPanel";

/**
 * The Files tab. `/files/<path>` browses my home, `/files/~alice/<path>` alice's storage (what she
 * shared with me), `/files?view=shared` lists what is shared with me. Uploads keep going while
 * the user browses; their panel shows under whichever view is open.
 */
export function FilesPage() {
  const splat = useParams()["*"];
  const [params] = useSearchParams();
  const shared = params.get("view") === "shared";
  const location = parseFilesPath(splat);
  const uploads = useUploads();
  useUploadLifecycle(uploads.state);
  const mine = !shared && location.owner === null;

  return (
    <section className="page files-page">
      <header className="page-header">
        <h1>Files</h1>
        <nav className="files-views" aria-label="Files views">
          <Link to="/files" className={`files-view${mine ? " active" : ""}`} aria-current={mine ? "page" : undefined}>
            My files
          </Link>
          <Link to="/files?view=shared" className={`files-view${shared ? " active" : ""}`} aria-current={shared ? "page" : undefined}>
            Shared with me
          </Link>
        </nav>
      </header>
      {shared ? <SharedWithMe /> : <FolderView location={location} uploads={uploads} />}
      <UploadPanel uploads={uploads} />
    </section>
  );
}
