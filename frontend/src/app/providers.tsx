import { MutationCache, QueryCache, QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { useState, type ReactNode } from "react";
import { authKeys } from "@/features/auth/api";
import { isApiError } from "@/lib/api";

/**
 * The one cache of server state. A 401 from any query or mutation means the session is gone:
 * re-asking `auth/me` makes the route guard send the user to the login page.
 */
export function createQueryClient(): QueryClient {
  const onError = (error: unknown, queryKey?: readonly unknown[]) => {
    if (!isApiError(error, 401)) return;
    if (queryKey && queryKey[0] === authKeys.me[0] && queryKey[1] === authKeys.me[1]) return;
    void client.invalidateQueries({ queryKey: authKeys.me });
  };
  const client: QueryClient = new QueryClient({
    queryCache: new QueryCache({ onError: (error, query) => onError(error, query.queryKey) }),
    mutationCache: new MutationCache({ onError: (error) => onError(error) }),
    defaultOptions: {
      queries: {
        // WebSocket events invalidate what changed; polling is not needed.
        staleTime: 30_000,
        // 4xx answers are final; retry only what may be transient.
        retry: (count, error) => !(isApiError(error) && error.status >= 400 && error.status < 500) && count < 2,
      },
      mutations: { retry: false },
    },
  });
  return client;
}

export function AppProviders({ children, client }: { children: ReactNode; client?: QueryClient }) {
  const [queryClient] = useState(() => client ?? createQueryClient());
  return <QueryClientProvider client={queryClient}>{children}</QueryClientProvider>;
}
