"""A bare viewflow 2.4 flow of the same shape as CaseFlow's scoring: start → four parallel expert View
tasks (assigned on creation) → Join → a leader's review View → End. Nothing but the engine: stock nodes,
stock `UpdateProcessView` forms, the same lock implementation as CaseFlow (`select_for_update_lock`)."""

from django.contrib.auth import get_user_model
from viewflow import this
from viewflow.workflow import flow, lock
from viewflow.workflow.flow.views import UpdateProcessView

from .models import BareProcess


class BareFlow(flow.Flow):
    process_class = BareProcess
    lock_impl = lock.select_for_update_lock

    start = flow.StartHandle(this.start_process).Next(this.split)
    split = flow.Split().Next(this.score_1).Next(this.score_2).Next(this.score_3).Next(this.score_4)
    score_1 = (
        flow.View(UpdateProcessView.as_view(fields=["total_1", "reason_1"]))
        .Assign(lambda act: get_user_model()(pk=act.process.expert_1))
        .Next(this.join)
    )
    score_2 = (
        flow.View(UpdateProcessView.as_view(fields=["total_2", "reason_2"]))
        .Assign(lambda act: get_user_model()(pk=act.process.expert_2))
        .Next(this.join)
    )
    score_3 = (
        flow.View(UpdateProcessView.as_view(fields=["total_3", "reason_3"]))
        .Assign(lambda act: get_user_model()(pk=act.process.expert_3))
        .Next(this.join)
    )
    score_4 = (
        flow.View(UpdateProcessView.as_view(fields=["total_4", "reason_4"]))
        .Assign(lambda act: get_user_model()(pk=act.process.expert_4))
        .Next(this.join)
    )
    join = flow.Join().Next(this.review)
    review = (
        flow.View(UpdateProcessView.as_view(fields=["approved"]))
        .Assign(lambda act: get_user_model()(pk=act.process.leader))
        .Next(this.end)
    )
    end = flow.End()

    def start_process(self, activation, experts, leader):
        process = activation.process
        process.expert_1, process.expert_2, process.expert_3, process.expert_4 = experts
        process.leader = leader
        return process
