"""Root URLs: the API under /api/v1/, its schema and docs, the admin, and the SPA for the rest."""

from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from console import apis, views
from jobs.browse import browse_proxy

api_v1 = [
    path("auth/csrf/", apis.CsrfApi.as_view()),
    path("auth/login/", apis.LoginApi.as_view()),
    path("auth/logout/", apis.LogoutApi.as_view()),
    path("auth/me/", apis.MeApi.as_view()),
    path("auth/tokens/", apis.TokenListApi.as_view()),
    path("auth/tokens/obtain/", apis.TokenObtainApi.as_view()),
    path("auth/tokens/<int:token_id>/", apis.TokenRevokeApi.as_view()),
    path("users/", apis.UserSearchApi.as_view()),
    path("principals/", apis.PrincipalSearchApi.as_view()),
    path("groups/", apis.GroupListApi.as_view()),
    path("groups/<str:name>/", apis.GroupDetailApi.as_view()),
    path("groups/<str:name>/members/", apis.GroupMemberAddApi.as_view()),
    path("groups/<str:name>/members/<str:username>/", apis.GroupMemberRemoveApi.as_view()),
    path("shares/", apis.ShareApi.as_view()),
    path("shares/revoke/", apis.RevokeApi.as_view()),
    path("shares/with-me/", apis.SharedWithMeApi.as_view()),
    path("shares/by-me/", apis.SharedByMeApi.as_view()),
    path("acl/", apis.AclApi.as_view()),
    path("health/", apis.HealthApi.as_view()),
]

urlpatterns = [
    path("api/v1/", include(api_v1)),
    path("api/v1/", include("jobs.urls")),
    path("api/v1/", include("storage.urls")),
    path("api/v1/", include("flows.urls")),
    # Public share links and their downloads (no login): storage/urls_public.py
    path("s/", include("storage.urls_public")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema")),
    path("admin/", admin.site.urls),
    re_path(r"^api/", views.api_not_found),
    # A running job's web app, proxied (the SPA's /jobs/<id> pages stay client-side routes).
    re_path(r"^jobs/(?P<ref>[^/]+)/browse/(?P<path>.*)$", browse_proxy),
    re_path(r"^jobs/(?P<ref>[^/]+)/browse$", views.add_slash),
    # Everything else is a client-side route of the SPA (deep links reload correctly).
    re_path(r"^(?!static/|ws/|s/|assets/).*$", views.spa_index),
]
