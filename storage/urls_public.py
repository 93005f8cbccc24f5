"""Public share-link routes under /s/ (anyone with the token; no account). See docs/storage.md."""

from django.urls import path

from storage import apis_public

urlpatterns = [
    path("<str:token>/", apis_public.LinkPublicApi.as_view()),
    path("<str:token>/<path:subpath>", apis_public.LinkPublicPathApi.as_view()),
]
