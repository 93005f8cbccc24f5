import { useParams } from "react-router";
import { flowLocationFromParams, type FlowLocation } from "../paths";

/** The flow the page URL names (`/flows/:flowId…` or `/flows/~:owner/:flowId…`), or null when malformed. */
export function useFlowLocation(): FlowLocation | null {
  const params = useParams();
  return flowLocationFromParams({ owner: params.owner, flowId: params.flowId });
}
