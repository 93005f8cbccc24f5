"""HTTP routes of flows and bakes, mounted under /api/v1/ (flow references may be URIs with
slashes, so the specific routes come first)."""

from django.urls import path

from flows import apis

urlpatterns = [
    path("flows/", apis.FlowListApi.as_view()),
    path("flows/check/", apis.FlowCheckApi.as_view()),
    path("flows/sync/", apis.FlowSyncApi.as_view()),
    path("flows/<path:ref>/live/<str:job_id>/run/", apis.FlowLiveRunApi.as_view()),
    path("flows/<path:ref>/live/<str:job_id>/kill/", apis.FlowLiveKillApi.as_view()),
    path("flows/<path:ref>/bakes/", apis.FlowBakeListApi.as_view()),
    path("flows/<path:ref>/volumes/", apis.FlowVolumeListApi.as_view()),
    path("flows/<path:ref>/", apis.FlowDetailApi.as_view()),
    path("bakes/<str:bake_id>/", apis.BakeDetailApi.as_view()),
    path("bakes/<str:bake_id>/cancel/", apis.BakeCancelApi.as_view()),
    path("bakes/<str:bake_id>/restart/", apis.BakeRestartApi.as_view()),
    path("bakes/<str:bake_id>/graph/", apis.BakeGraphApi.as_view()),
]
