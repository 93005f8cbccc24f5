"""HTTP routes of the jobs app, mounted under /api/v1/. A job reference is an id, a name or a
``job:`` URI (which may hold slashes), so the specific routes come first."""

from django.urls import path

from jobs import apis

urlpatterns = [
    path("presets/", apis.PresetListApi.as_view()),
    path("jobs/", apis.JobListApi.as_view()),
    path("jobs/<path:ref>/logs/", apis.JobLogsApi.as_view()),
    path("jobs/<path:ref>/history/", apis.JobHistoryApi.as_view()),
    path("jobs/<path:ref>/kill/", apis.JobKillApi.as_view()),
    path("jobs/<path:ref>/", apis.JobDetailApi.as_view()),
]
