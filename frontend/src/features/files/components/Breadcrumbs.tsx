import { Link } from "react-router";
import { breadcrumbs, filesRoute, type FilesLocation } from "../paths";

/** Home (or `~alice`) / folder / folder: each a link but the current one. */
export function Breadcrumbs({ location }: { location: FilesLocation }) {
  const crumbs = breadcrumbs(location);
  return (
    <nav className="breadcrumbs" aria-label="Breadcrumb">
      <ol className="breadcrumb-list">
        {crumbs.map((crumb, index) => (
          <li key={index}>
            {index > 0 ? (
              <span className="breadcrumb-sep" aria-hidden="true">
                /
              </span>
            ) : null}
            {crumb.current ? (
              <span aria-current="page">{crumb.label}</span>
            ) : (
              <Link to={filesRoute(crumb.location)}>{crumb.label}</Link>
            )}
          </li>
        ))}
      </ol>
    </nav>
  );
}
