/**
 * The bake page, in its own chunk: React Flow (@xyflow/react) and dagre load only when a bake is
 * opened. app/routes.tsx mounts it lazily.
 */
import "@xyflow/react/dist/style.css";
import "./flows.css";
import "./bake.css";

export { BakePage } from "./components/BakePage";
