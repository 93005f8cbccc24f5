/** The Files tab's page (app/routes.tsx mounts it on /files/*) + files.css. */
import "./files.css";

export { FilesPage } from "./components/FilesPage";
