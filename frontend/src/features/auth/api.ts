/** Session and personal API tokens (docs/api.md "Authentication"). */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, isApiError } from "@/lib/api";

export interface User {
  id: number;
  username: string;
  email: string;
  full_name: string;
  is_staff: boolean;
  groups: string[];
}

export interface ApiToken {
  id: number | string;
  name: string;
  prefix: string;
  created_at: string;
  last_used_at: string | null;
}

/** Only in the answer that created the token: the clear value, shown once. */
export interface CreatedApiToken extends ApiToken {
  token: string;
}

export const authKeys = {
  me: ["auth", "me"] as const,
  tokens: ["auth", "tokens"] as const,
};

export function useMe() {
  return useQuery({
    queryKey: authKeys.me,
    queryFn: ({ signal }) => api.get<User>("/auth/me/", { signal }),
    // 401 is an answer ("not logged in"), not a failure worth retrying.
    retry: (count, error) => !isApiError(error, 401) && count < 2,
    staleTime: 5 * 60_000,
  });
}

export function useLogin() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (input: { username: string; password: string }) => api.post<User>("/auth/login/", input),
    onSuccess: (user) => {
      // A new session: nothing cached for the previous one may leak into it.
      queryClient.clear();
      queryClient.setQueryData(authKeys.me, user);
    },
  });
}

export function useLogout() {
  return useMutation({
    mutationFn: () => api.post<void>("/auth/logout/"),
  });
}

export function useTokens() {
  return useQuery({
    queryKey: authKeys.tokens,
    queryFn: ({ signal }) => api.get<{ results: ApiToken[] }>("/auth/tokens/", { signal }),
    select: (body) => body.results,
  });
}

export function useCreateToken() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (input: { name: string }) => api.post<CreatedApiToken>("/auth/tokens/", input),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: authKeys.tokens }),
  });
}

export function useRevokeToken() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (id: ApiToken["id"]) => api.delete(`/auth/tokens/${encodeURIComponent(String(id))}/`),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: authKeys.tokens }),
  });
}
