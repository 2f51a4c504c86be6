"""The bare flow's process: a proxy of viewflow's Process whose fields live in `Process.data`
(viewflow's jsonstore, as in viewflow 2's own samples): no table of its own, no migration."""

from viewflow import jsonstore
from viewflow.workflow.models import Process


class BareProcess(Process):
    expert_1 = jsonstore.IntegerField(null=True)
    expert_2 = jsonstore.IntegerField(null=True)
    expert_3 = jsonstore.IntegerField(null=True)
    expert_4 = jsonstore.IntegerField(null=True)
    leader = jsonstore.IntegerField(null=True)
    total_1 = jsonstore.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    total_2 = jsonstore.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    total_3 = jsonstore.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    total_4 = jsonstore.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    reason_1 = jsonstore.CharField(max_length=500, blank=True)
    reason_2 = jsonstore.CharField(max_length=500, blank=True)
    reason_3 = jsonstore.CharField(max_length=500, blank=True)
    reason_4 = jsonstore.CharField(max_length=500, blank=True)
    approved = jsonstore.BooleanField(default=False)

    class Meta:
        proxy = True
        app_label = "bench_bare"
