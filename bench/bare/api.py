"""A minimal authenticated DRF list of viewflow's own inbox: `Task.objects.inbox(flow_classes, user)`
(which needs `viewflow.view_process`, viewflow's rule), newest first, DRF's default authentication
(session, then the product's token class), permission (authenticated) and pagination (50 a page, with
its count), a plain ModelSerializer. The floor any inbox endpoint on this engine and framework pays."""

from rest_framework import generics, serializers
from viewflow.workflow.models import Task

from workflow.flows import CaseFlow, RectificationFlow, RoundFlow

FLOWS = [CaseFlow, RoundFlow, RectificationFlow]


class BareTaskSerializer(serializers.ModelSerializer):
    flow_task = serializers.CharField()

    class Meta:
        model = Task
        fields = ["id", "process", "flow_task", "status", "created", "assigned", "owner"]


class BareInbox(generics.ListAPIView):
    serializer_class = BareTaskSerializer

    def get_queryset(self):
        return Task.objects.inbox(FLOWS, self.request.user).order_by("-created")
