"""HTTP API of the Files capability under /api/v1/storage/ (thin views; see docs/storage.md).

Raw-body uploads (``PUT content/``, ``PATCH uploads/<id>/``) read ``request._request`` as a stream
and never touch ``request.data``, so no DRF parser ever loads a body into memory.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any
from uuid import UUID

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import APIView

from console.errors import InvalidInput
from console.fields import UriField
from console.models import Level
from console.uris import Uri
from storage import selectors, services
from storage.backends.base import Entry
from storage.http import body_chunks, content_length, file_response, zip_response
from storage.models import ShareLink, UploadSession

# --- input and output -------------------------------------------------------------------------------


def parse(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    if hasattr(data, "dict"):  # a QueryDict: plain values, so a missing boolean takes its default
        data = data.dict()
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def encode_cursor(raw: str | None) -> str | None:
    return None if raw is None else base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(text: str | None) -> str | None:
    if not text:
        return None
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidInput("Invalid cursor: pass back the next_cursor of an earlier page",
                           details={"cursor": ["invalid"]}) from None


def entry_output(uri: Uri, entry: Entry) -> dict[str, Any]:
    return {"name": entry.name, "uri": str(uri), "type": entry.type, "size": entry.size, "mtime": entry.mtime}


def level_output(level: Level | None) -> str | None:
    return level.codename if level is not None else None


def upload_output(upload: UploadSession) -> dict[str, Any]:
    return {
        "id": str(upload.id),
        "uri": upload.uri,
        "size": upload.size,
        "offset": upload.offset,
        "overwrite": upload.overwrite,
        "complete": upload.is_complete,
        "created_at": upload.created_at,
        "expires_at": upload.expires_at,
        "url": f"/api/v1/storage/uploads/{upload.id}/",
    }


def upload_headers(response: Any, upload: UploadSession) -> Any:
    response["Upload-Offset"] = str(upload.offset)
    response["Upload-Length"] = str(upload.size)
    response["Upload-Expires"] = upload.expires_at.isoformat()
    response["Cache-Control"] = "no-store"
    return response


def link_output(request: Request, link: ShareLink) -> dict[str, Any]:
    return {
        "id": link.pk,
        "uri": link.uri,
        "kind": link.kind,
        "token": link.token,
        "url": request.build_absolute_uri(f"/s/{link.token}/"),
        "created_by": link.created_by.username,
        "created_at": link.created_at,
        "expires_at": link.expires_at,
        "revoked_at": link.revoked_at,
        "active": link.is_live(),
    }


class UriQuery(serializers.Serializer):
    uri = UriField(default="storage:", max_length=4096)


class ListQuery(UriQuery):
    cursor = serializers.CharField(required=False, allow_blank=True, max_length=4096)
    limit = serializers.IntegerField(required=False, default=selectors.DEFAULT_PAGE, min_value=1,
                                     max_value=selectors.MAX_PAGE)


class ContentQuery(serializers.Serializer):
    uri = UriField(max_length=4096)
    inline = serializers.BooleanField(default=False)
    overwrite = serializers.BooleanField(default=True)


class MkdirInput(serializers.Serializer):
    uri = UriField(max_length=4096)
    parents = serializers.BooleanField(default=False)


class DeleteInput(serializers.Serializer):
    uri = UriField(max_length=4096)
    recursive = serializers.BooleanField(default=False)


class TransferInput(serializers.Serializer):
    src = UriField(max_length=4096)
    dst = UriField(max_length=4096)


class UploadCreateInput(serializers.Serializer):
    uri = UriField(max_length=4096)
    size = serializers.IntegerField(min_value=0)
    overwrite = serializers.BooleanField(default=True)


class LinkCreateInput(serializers.Serializer):
    uri = UriField(max_length=4096)
    expires_in = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)


class LinkListQuery(serializers.Serializer):
    uri = UriField(required=False, max_length=4096)
    all = serializers.BooleanField(default=False)


_URI = OpenApiParameter("uri", str, description="storage URI: storage:path, storage:/user/path or storage://cluster/user/path")


# --- files and folders ------------------------------------------------------------------------------


class StorageListApi(APIView):
    @extend_schema(parameters=[_URI, OpenApiParameter("cursor", str), OpenApiParameter("limit", int)],
                   responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        data = parse(ListQuery, request.query_params)
        listing = selectors.storage_list(user=request.user, uri=data["uri"], cursor=decode_cursor(data.get("cursor")),
                                         limit=data["limit"])
        cursor = encode_cursor(listing.next_cursor)
        next_url = None
        if cursor is not None:
            next_url = replace_query_param(request.build_absolute_uri(), "cursor", cursor)
        return Response({
            "uri": str(listing.uri),
            "my_level": level_output(listing.level),
            "results": [entry_output(uri, entry) for uri, entry in listing.entries],
            "next_cursor": cursor,
            "next": next_url,
            "previous": None,
        })


class StorageStatApi(APIView):
    @extend_schema(parameters=[_URI], responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        data = parse(UriQuery, request.query_params)
        found = selectors.storage_stat(user=request.user, uri=data["uri"])
        return Response({**entry_output(found.uri, found.entry), "my_level": level_output(found.level)})


class StorageMkdirApi(APIView):
    @extend_schema(request=MkdirInput, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request) -> Response:
        data = parse(MkdirInput, request.data)
        uri, entry = services.storage_mkdir(by=request.user, uri=data["uri"], parents=data["parents"])
        return Response(entry_output(uri, entry), status=status.HTTP_201_CREATED)


class StorageContentApi(APIView):
    """``GET``/``HEAD``: download (with Range). ``PUT``: upload the raw body (streamed)."""

    @extend_schema(parameters=[_URI, OpenApiParameter("inline", bool)], responses={(200, "*/*"): OpenApiTypes.BINARY})
    def get(self, request: Request) -> Any:
        return self._download(request, head=False)

    def head(self, request: Request) -> Any:
        return self._download(request, head=True)

    def _download(self, request: Request, *, head: bool) -> Any:
        data = parse(ContentQuery, request.query_params)
        stored = selectors.storage_file_get(user=request.user, uri=data["uri"])
        return file_response(request._request, entry=stored.entry, open_chunks=stored.chunks, head=head,
                             inline=data["inline"])

    @extend_schema(parameters=[_URI, OpenApiParameter("overwrite", bool)],
                   request={"application/octet-stream": OpenApiTypes.BINARY}, responses={201: OpenApiTypes.OBJECT})
    def put(self, request: Request) -> Response:
        data = parse(ContentQuery, request.query_params)
        uri, entry = services.storage_upload(by=request.user, uri=data["uri"], chunks=body_chunks(request._request),
                                             size=content_length(request._request), overwrite=data["overwrite"])
        return Response(entry_output(uri, entry), status=status.HTTP_201_CREATED)


class StorageZipApi(APIView):
    @extend_schema(parameters=[_URI], responses={(200, "application/zip"): OpenApiTypes.BINARY})
    def get(self, request: Request) -> Any:
        data = parse(UriQuery, request.query_params)
        uri, chunks = selectors.storage_zip_get(user=request.user, uri=data["uri"])
        return zip_response(request._request, name=uri.name, chunks=chunks)


class StorageDeleteApi(APIView):
    @extend_schema(request=DeleteInput, responses={204: None})
    def post(self, request: Request) -> Response:
        data = parse(DeleteInput, request.data)
        services.storage_delete(by=request.user, uri=data["uri"], recursive=data["recursive"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class StorageMoveApi(APIView):
    @extend_schema(request=TransferInput, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request) -> Response:
        data = parse(TransferInput, request.data)
        uri, entry = services.storage_move(by=request.user, src=data["src"], dst=data["dst"])
        return Response(entry_output(uri, entry))


class StorageCopyApi(APIView):
    @extend_schema(request=TransferInput, responses={201: OpenApiTypes.OBJECT})
    def post(self, request: Request) -> Response:
        data = parse(TransferInput, request.data)
        uri, entry = services.storage_copy(by=request.user, src=data["src"], dst=data["dst"])
        return Response(entry_output(uri, entry), status=status.HTTP_201_CREATED)


class StorageDuApi(APIView):
    @extend_schema(parameters=[_URI], responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        data = parse(UriQuery, request.query_params)
        uri, usage = selectors.storage_du(user=request.user, uri=data["uri"])
        return Response({"uri": str(uri), **usage.as_dict()})


# --- resumable uploads ------------------------------------------------------------------------------


class UploadListApi(APIView):
    @extend_schema(operation_id="v1_storage_uploads_list", responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        return Response({"results": [upload_output(upload) for upload in selectors.upload_list(user=request.user)]})

    @extend_schema(request=UploadCreateInput, responses={201: OpenApiTypes.OBJECT})
    def post(self, request: Request) -> Response:
        data = parse(UploadCreateInput, request.data)
        upload = services.upload_create(by=request.user, uri=data["uri"], size=data["size"],
                                        overwrite=data["overwrite"])
        response = Response(upload_output(upload), status=status.HTTP_201_CREATED)
        response["Location"] = request.build_absolute_uri(upload_output(upload)["url"])
        return upload_headers(response, upload)


class UploadDetailApi(APIView):
    """One resumable upload: ``HEAD``/``GET`` where it is, ``PATCH`` the next chunk, ``DELETE``."""

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, upload_id: UUID) -> Response:
        upload = selectors.upload_get(user=request.user, upload_id=upload_id)
        return upload_headers(Response(upload_output(upload)), upload)

    def head(self, request: Request, upload_id: UUID) -> Response:
        upload = selectors.upload_get(user=request.user, upload_id=upload_id)
        return upload_headers(Response(status=status.HTTP_200_OK), upload)

    @extend_schema(parameters=[OpenApiParameter("Upload-Offset", int, OpenApiParameter.HEADER, required=True)],
                   request={"application/offset+octet-stream": OpenApiTypes.BINARY}, responses=OpenApiTypes.OBJECT)
    def patch(self, request: Request, upload_id: UUID) -> Response:
        upload = selectors.upload_get(user=request.user, upload_id=upload_id)
        raw = request.headers.get("Upload-Offset", "")
        if not raw.strip().isdigit():
            raise InvalidInput("The Upload-Offset header (a byte offset) is required",
                               details={"Upload-Offset": ["required: a whole number ≥ 0"]})
        upload = services.upload_write(by=request.user, upload=upload, offset=int(raw),
                                       chunks=body_chunks(request._request), length=content_length(request._request))
        return upload_headers(Response(upload_output(upload)), upload)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, upload_id: UUID) -> Response:
        upload = selectors.upload_get(user=request.user, upload_id=upload_id)
        services.upload_abort(by=request.user, upload=upload)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- share links ------------------------------------------------------------------------------------


class LinkListApi(APIView):
    @extend_schema(operation_id="v1_storage_links_list",
                   parameters=[OpenApiParameter("uri", str), OpenApiParameter("all", bool)],
                   responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        data = parse(LinkListQuery, request.query_params)
        links = selectors.link_list(user=request.user, uri=data.get("uri"), include_inactive=data["all"])
        return Response({"results": [link_output(request, link) for link in links]})

    @extend_schema(request=LinkCreateInput, responses={201: OpenApiTypes.OBJECT})
    def post(self, request: Request) -> Response:
        data = parse(LinkCreateInput, request.data)
        link = services.link_create(by=request.user, uri=data["uri"], expires_in=data.get("expires_in"),
                                    expires_at=data.get("expires_at"))
        return Response(link_output(request, link), status=status.HTTP_201_CREATED)


class LinkDetailApi(APIView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, link_id: int) -> Response:
        return Response(link_output(request, selectors.link_get(user=request.user, link_id=link_id)))

    @extend_schema(responses={204: None})
    def delete(self, request: Request, link_id: int) -> Response:
        link = selectors.link_get(user=request.user, link_id=link_id)
        services.link_revoke(by=request.user, link=link)
        return Response(status=status.HTTP_204_NO_CONTENT)
