"""/api/v1/documents/ and /api/v1/document-batches/: official documents. Thin: every queryset starts from
`access.visible(Document, user)`, every write is one service call; rendering happens in the worker."""

import django_filters
from django.http import FileResponse, HttpResponse
from django.utils.http import content_disposition_header
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field, inline_serializer
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from cases import access
from cases import models as m
from cases.api.fields import StrictSerializer, refuse_body
from cases.errors import Conflict
from notifications.documents import docx, services
from notifications.documents.models import Document, DocumentBatch, DocumentKind, DocumentStatus

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


class DocumentSerializer(serializers.ModelSerializer):
    unit_name = serializers.CharField(source="unit.name", default=None, read_only=True)
    kind_display = serializers.CharField(source="get_kind_display", read_only=True)
    status_display = serializers.CharField(source="get_status_display", read_only=True)
    replaced_by: serializers.PrimaryKeyRelatedField = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    has_pdf = serializers.SerializerMethodField()
    has_preview = serializers.SerializerMethodField()

    class Meta:
        model = Document
        fields = [
            "id", "round", "unit", "unit_name", "kind", "kind_display", "audience", "status", "status_display",
            "version", "replaces", "replaced_by", "batch", "title", "addressees", "body", "cc", "doc_number",
            "issue_date", "issued_at", "sha256", "pages", "render_status", "render_error", "has_pdf",
            "has_preview", "created", "updated",
        ]
        read_only_fields = fields

    def get_has_pdf(self, obj: Document) -> bool:
        return bool(obj.pdf)

    def get_has_preview(self, obj: Document) -> bool:
        return bool(obj.preview) and obj.status == DocumentStatus.DRAFT


class DocumentCreateSerializer(StrictSerializer):
    round = serializers.PrimaryKeyRelatedField(queryset=m.Round.objects.all())
    kind = serializers.ChoiceField(choices=DocumentKind.choices)
    unit = serializers.PrimaryKeyRelatedField(queryset=m.Unit.objects.all(), required=False, allow_null=True)
    # The row a per-row kind is about: the closure sheet's rectification (checked against round and unit).
    rectification = serializers.IntegerField(required=False, min_value=1)


class DocumentUpdateSerializer(StrictSerializer):
    """The text parts of a draft; the data tables come from the round."""

    title = serializers.CharField(max_length=255, required=False)
    addressees = serializers.CharField(max_length=500, required=False, allow_blank=True)
    body = serializers.ListField(
        child=serializers.CharField(max_length=services.MAX_PARAGRAPH_CHARS), max_length=services.MAX_PARAGRAPHS,
        required=False,
    )
    cc = serializers.CharField(max_length=500, required=False, allow_blank=True)


class BatchCreateSerializer(StrictSerializer):
    round = serializers.PrimaryKeyRelatedField(queryset=m.Round.objects.all())


class FailedSerializer(serializers.Serializer):
    document = serializers.IntegerField()
    unit = serializers.CharField()
    error = serializers.CharField()


class ProgressSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    done = serializers.IntegerField()
    pending = serializers.IntegerField()
    failed = FailedSerializer(many=True)


class BatchSerializer(serializers.ModelSerializer):
    progress = serializers.SerializerMethodField()

    class Meta:
        model = DocumentBatch
        fields = ["id", "round", "kind", "created", "progress"]
        read_only_fields = fields

    @extend_schema_field(ProgressSerializer)
    def get_progress(self, obj: DocumentBatch) -> dict:
        return services.batch_progress(obj)


class DocumentFilter(django_filters.FilterSet):
    class Meta:
        model = Document
        fields = ["round", "kind", "unit", "status", "batch"]


class OfficeWrites(permissions.BasePermission):
    """Reads follow row-level access; drafting, editing and issuing are the office's (checked before
    a body is read)."""

    message = "只有考核办可以起草和印发公文。"

    def has_permission(self, request, view):
        return request.method in permissions.SAFE_METHODS or access.is_office(request.user)


def pdf_response(file, filename: str) -> FileResponse:
    response = FileResponse(file.open("rb"), as_attachment=True, filename=filename, content_type="application/pdf")
    response["X-Content-Type-Options"] = "nosniff"
    return response


class DocumentViewSet(mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Official documents. `?round=&kind=&unit=&status=` filter the list. A draft is edited with PATCH
    (title, addressees, body paragraphs, cc), previewed (a watermarked 样稿), then issued: the worker
    numbers, renders and stores it; `status` and `render_status` show where it is."""

    serializer_class = DocumentSerializer
    filterset_class = DocumentFilter
    permission_classes = [permissions.IsAuthenticated, OfficeWrites]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        return access.visible(Document, self.request.user).select_related("unit")

    @extend_schema(request=DocumentCreateSerializer, responses={201: DocumentSerializer})
    def create(self, request):
        body = DocumentCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        fields = dict(body.validated_data)
        row = {"rectification": fields.pop("rectification")} if "rectification" in fields else None
        document = services.draft_create(user=request.user, data=row, **fields)
        return Response(DocumentSerializer(document).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=DocumentUpdateSerializer, responses=DocumentSerializer)
    def partial_update(self, request, pk=None):
        document = self.get_object()
        body = DocumentUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        document = services.draft_update(user=request.user, document=document, changes=dict(body.validated_data))
        return Response(DocumentSerializer(document).data)

    def update(self, request, *args, **kwargs):  # PUT is not offered: drafts change part by part
        return self.partial_update(request, *args, **kwargs)

    def _act(self, request, service) -> Response:
        document = self.get_object()
        refuse_body(request.data)
        document = service(user=request.user, document=document)
        return Response(DocumentSerializer(document).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={202: DocumentSerializer})
    @action(detail=True, methods=["post"])
    def preview(self, request, pk=None):
        """Ask the worker for a watermarked 样稿 of the draft."""
        return self._act(request, services.preview_request)

    @extend_schema(request=None, responses={202: DocumentSerializer})
    @action(detail=True, methods=["post"])
    def issue(self, request, pk=None):
        """Issue the draft: the worker allocates the number, renders and stores the PDF (409 if it is
        not a draft any more)."""
        return self._act(request, services.issue_request)

    @extend_schema(request=None, responses={201: DocumentSerializer})
    @action(detail=True, methods=["post"])
    def correct(self, request, pk=None):
        """Start a correction of an issued document: a new draft version that replaces it once issued."""
        document = self.get_object()
        refuse_body(request.data)
        correction = services.correction_create(user=request.user, document=document)
        return Response(DocumentSerializer(correction).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"])
    def download(self, request, pk=None):
        """The issued PDF; for a draft, its latest 样稿 (409 while there is none)."""
        found = services.download_of(self.get_object())
        if found is None:
            raise Conflict("文件尚未生成。")
        return pdf_response(*found)

    @extend_schema(responses={(200, DOCX): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"])
    def docx(self, request, pk=None):
        """An editable .docx of the draft's text, for finishing the wording in WPS or Word (the issued
        PDF stays the record)."""
        document = self.get_object()
        if not access.is_office(request.user):
            return Response({"detail": "只有考核办可以下载可编辑稿。"}, status=status.HTTP_403_FORBIDDEN)
        response = HttpResponse(docx.draft_docx(document), content_type=DOCX)
        response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=f"{document.title}.docx")
        return response


class DocumentBatchViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Bulk issue: a round's feedback letters in one action; `progress` counts done / pending / failed."""

    serializer_class = BatchSerializer
    permission_classes = [permissions.IsAuthenticated, OfficeWrites]

    def get_queryset(self):
        return access.visible(DocumentBatch, self.request.user)

    @extend_schema(request=BatchCreateSerializer, responses={201: BatchSerializer})
    def create(self, request):
        body = BatchCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        batch = services.batch_feedback_letters(user=request.user, round=body.validated_data["round"])
        return Response(BatchSerializer(batch).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=inline_serializer("BatchRetried", {"retried": serializers.IntegerField()}))
    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        batch = self.get_object()
        refuse_body(request.data)
        return Response({"retried": services.batch_retry(user=request.user, batch=batch)})
