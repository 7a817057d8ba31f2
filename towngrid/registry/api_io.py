"""The registry's Excel import and export API (under ``/api/v1/registry/``).

    POST registry/import/<type>/            multipart: file=<xlsx>, dry_run=true|false (default true)
    GET  registry/import/<type>/template/   the type's import template
    GET  registry/export/<type>/?<filters>  the filtered list as a workbook (masked;
                                            reveal=true&reason=… for plain values, audited)

The import answers with the structured report (every rejected cell: row, column, masked value,
code, reason). A commit with any rejected row writes nothing and answers 400 ``rejected`` with
the report as its details. ``<type>`` is a key (house, resident …) or a list slug (houses …).
"""

from __future__ import annotations

from django.http import FileResponse, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from towngrid.accounts.access import has_capability
from towngrid.core.api import ApiError

from . import excel, exports

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TRUE = {"1", "true", "yes", "on"}


def _key(name: str) -> str:
    try:
        return exports.type_key(name)
    except excel.ImportError_ as exc:
        raise ApiError("unknown_type", exc.message, status_code=404) from None


def _require(user, capability: str, message: str) -> None:
    if not has_capability(user, capability):
        raise ApiError("forbidden", message, status_code=403)


class ImportView(APIView):
    permission_classes = [IsAuthenticated]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        summary="导入 Excel（试导入或正式导入）",
        request={"multipart/form-data": {"type": "object", "properties": {
            "file": {"type": "string", "format": "binary"},
            "dry_run": {"type": "boolean", "default": True}}}},
        responses={200: OpenApiResponse(description="导入报告"),
                   400: OpenApiResponse(description="有被拒绝的行（未写入），或文件无法读取")},
    )  # fmt: skip
    def post(self, request, type_key: str):
        _require(request.user, "registry.import", "您没有导入实有信息的权限。")
        key = _key(type_key)
        upload = request.FILES.get("file")
        if upload is None:
            raise ApiError(
                "invalid", "请上传 Excel 文件（字段 file）。", details={"file": ["必填"]}
            )
        if upload.size > excel.MAX_UPLOAD_BYTES:
            raise ApiError("too_large", "文件过大。", details={"max_bytes": excel.MAX_UPLOAD_BYTES})
        dry_run = str(request.data.get("dry_run", "true")).strip().lower() in TRUE
        try:
            report = excel.run_import(
                key, upload, actor=request.user, dry_run=dry_run, file_name=upload.name
            )
        except excel.ImportError_ as exc:
            raise ApiError(exc.code, exc.message) from None
        body = report.as_dict()
        if report.errors and not dry_run:
            raise ApiError(
                "rejected",
                f"有 {report.rejected_rows} 行被拒绝，未写入任何数据。",
                details=body,
            )
        return Response(body)


class TemplateView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(summary="下载导入模板", responses={(200, XLSX): OpenApiTypes.BINARY})
    def get(self, request, type_key: str):
        _require(request.user, "registry.import", "您没有导入实有信息的权限。")
        key = _key(type_key)
        response = HttpResponse(excel.template_bytes(key), content_type=XLSX)
        response["Content-Disposition"] = f'attachment; filename="registry-{key}-template.xlsx"'
        return response


class ExportView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        summary="导出筛选后的清单",
        parameters=[
            OpenApiParameter("reveal", OpenApiTypes.BOOL, description="导出个人信息原文"),
            OpenApiParameter("reason", OpenApiTypes.STR, description="导出原文的事由"),
            OpenApiParameter("grid", OpenApiTypes.STR, description="网格编码前缀"),
            OpenApiParameter("q", OpenApiTypes.STR, description="关键字"),
        ],
        responses={(200, XLSX): OpenApiTypes.BINARY},
    )
    def get(self, request, type_key: str):
        _require(request.user, "registry.view", "您没有查看实有信息的权限。")
        key = _key(type_key)
        reveal = request.query_params.get("reveal", "").lower() in TRUE
        try:
            handle, _count, _revealed = exports.export(
                key, request.query_params, actor=request.user, reveal=reveal,
                reason=request.query_params.get("reason", ""),
            )  # fmt: skip
        except exports.ExportError as exc:
            raise ApiError(exc.code, exc.message, status_code=403 if exc.code == "forbidden"
                           else 400) from None  # fmt: skip
        return FileResponse(
            handle, as_attachment=True, filename=exports.file_name(key), content_type=XLSX
        )
