"""HTTP routes of the storage app, mounted under /api/v1/ by console/urls.py (docs/storage.md)."""

from django.urls import path

from storage import apis

urlpatterns = [
    path("storage/list/", apis.StorageListApi.as_view()),
    path("storage/stat/", apis.StorageStatApi.as_view()),
    path("storage/mkdir/", apis.StorageMkdirApi.as_view()),
    path("storage/content/", apis.StorageContentApi.as_view()),
    path("storage/zip/", apis.StorageZipApi.as_view()),
    path("storage/delete/", apis.StorageDeleteApi.as_view()),
    path("storage/move/", apis.StorageMoveApi.as_view()),
    path("storage/copy/", apis.StorageCopyApi.as_view()),
    path("storage/du/", apis.StorageDuApi.as_view()),
    path("storage/uploads/", apis.UploadListApi.as_view()),
    path("storage/uploads/<uuid:upload_id>/", apis.UploadDetailApi.as_view()),
    path("storage/links/", apis.LinkListApi.as_view()),
    path("storage/links/<int:link_id>/", apis.LinkDetailApi.as_view()),
]
