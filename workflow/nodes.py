"""Engine extensions: what the open-source viewflow 2.4 lacks, and a join and a human step that cost less."""

from functools import cache

from django.db import connection
from django.db.models import Exists, OuterRef, Q
from django.utils.timezone import now
from viewflow.workflow.activation import Activation
from viewflow.workflow.context import context
from viewflow.workflow.exceptions import FlowRuntimeError
from viewflow.workflow.flow import Join, Split, View
from viewflow.workflow.nodes.join import JoinActivation
from viewflow.workflow.nodes.split import SplitActivation
from viewflow.workflow.nodes.view import ViewActivation
from viewflow.workflow.signals import task_finished
from viewflow.workflow.status import STATUS

from cases.db import execute_prepared, insert_row, model_from_row, select_columns, update_row


class DynamicSplitActivation(SplitActivation):
    """Creates one task of a branch per item of its data source, with `task.data` set to the item.

    viewflow 2.4 documents `Split().Next(node, data_source=...)` but its activation ignores the data
    source (and `Next` rejects the argument); this is the documented behaviour, implemented.
    """

    @Activation.status.super()
    def activate(self):
        for node, cond, data_source in self.flow_task._branches:
            if cond and not cond(self):
                continue
            if data_source is None:
                self.next_tasks.append((node, None))
            else:
                self.next_tasks.extend((node, item) for item in data_source(self))
        if not self.next_tasks:
            raise FlowRuntimeError(f"No next task available for {self.flow_task.name}")


class DynamicSplit(Split):
    """A parallel split whose branches may fan out over a runtime list (one task per expert)."""

    activation_class = DynamicSplitActivation

    def Next(self, node, case=None, data_source=None):
        self._activate_next.append((node, case, data_source))
        return self


# Task states viewflow's join leaves out: of its incoming tasks (`_join_token_prefixes`), of the tasks
# still running on a branch (`_active_join_tasks`).
_LEFT = (STATUS.CANCELED, STATUS.REVIVED)
_FINISHED = (STATUS.DONE, STATUS.CANCELED, STATUS.REVIVED)


@cache
def _process_tasks_sql(task_class) -> str:
    table = task_class._meta.db_table
    previous = task_class.previous.through._meta
    from_task, to_task = previous.get_field("from_task").column, previous.get_field("to_task").column
    return f"""
        WITH incoming AS (
            SELECT l.{to_task} AS id FROM {previous.db_table} l JOIN {table} j ON j.id = l.{from_task}
             WHERE j.process_id = $1 AND j.flow_task = $2 AND j.status IN ($3, $4))
        SELECT {select_columns(task_class, "t")}, t.id IN (SELECT id FROM incoming)
          FROM {table} t
         WHERE t.process_id = $1 AND (t.status NOT IN ($5, $6, $7) OR t.id IN (SELECT id FROM incoming))"""


def _process_tasks(task_class, process_id, join_node) -> list:
    """The tasks of a process that a join's answers depend on: the unfinished ones (the open join among
    them) and the open join's incoming ones (`incoming` set on each), in one prepared statement."""
    if connection.vendor != "postgresql":  # the demo's SQLite: the same read through the ORM
        incoming = task_class.previous.through.objects.filter(
            to_task=OuterRef("pk"), from_task__process_id=process_id, from_task__flow_task=join_node,
            from_task__status__in=[STATUS.NEW, STATUS.STARTED])
        return list(task_class._default_manager.filter(process_id=process_id).annotate(incoming=Exists(incoming))
                    .filter(Q(incoming=True) | ~Q(status__in=_FINISHED)).order_by())
    node_ref = task_class._meta.get_field("flow_task").get_prep_value(join_node)
    rows = execute_prepared(f"join_tasks_{task_class._meta.db_table}", _process_tasks_sql(task_class),
                            [process_id, node_ref, STATUS.NEW, STATUS.STARTED, *_FINISHED])
    tasks = []
    for row in rows:
        task, at = model_from_row(task_class, row)
        task.incoming = row[at]
        tasks.append(task)
    return tasks


class ReadOnceJoinActivation(JoinActivation):
    """viewflow's join, reading the process's tasks once per arrival instead of four to seven times.

    viewflow 2.4's `JoinActivation` looks the open join up, links the arriving task, then asks twice
    whether the join is done (`complete.can_proceed()`, then `complete()`'s own check) and once more
    inside `complete()`: each time two queries (the incoming tasks' split tokens, then whether a task
    of the branches is still running), and `complete()` adds a savepoint. Here one prepared statement
    reads the process's open join, the join's incoming tasks and its unfinished tasks (`_process_tasks`);
    the answers are worked out from those rows by viewflow's own rules (token prefixes, "no task of the
    branches still running").
    Nothing changes between that read and the answers: they run in the same transaction, under the
    process lock, and the arriving task (already DONE) is added as the link just written adds it.

    A join created here starts STARTED (with `started` set), as viewflow's `activate()` would leave it
    one statement later. A join with a `continue_on_condition`, or an activation not made by `create`
    (e.g. `task.activation()`), runs viewflow's code unchanged.
    """

    _prefixes: set[str] | None = None  # the incoming tasks' split-token prefixes, from `create`'s read
    _unfinished: tuple = ()  # the process's tasks not finished, from the same read

    @classmethod
    def create(cls, flow_task, prev_activation, token, data=None, seed=None):
        if flow_task._continue_on_condition is not None:
            return super().create(flow_task, prev_activation, token, data=data, seed=seed)
        process, arriving = prev_activation.process, prev_activation.task
        task_class = flow_task.flow_class.task_class
        open_states = (STATUS.NEW, STATUS.STARTED)
        rows = _process_tasks(task_class, process.pk, flow_task)
        joins = [row for row in rows if row.flow_task == flow_task and row.status in open_states]
        if len(joins) > 1:
            raise FlowRuntimeError("More than one join instance for process found")
        if joins:
            task = joins[0]
            task.process = process  # the activation reads it: the row of the lock, not a new query
        else:
            task = task_class(process=process, flow_task=flow_task,
                              token=token.get_base_split_token() if token.is_split_token() else token)
            task.data = data if data is not None else {}
            task.seed = seed
            task.status, task.started = STATUS.STARTED, now()
            task.save()
            rows.append(task)
        # viewflow's `previous.add`, as one prepared statement (no m2m_changed receivers exist).
        insert_row(task_class.previous.through, {"from_task_id": task.pk, "to_task_id": arriving.pk},
                   skip_conflicts=True)
        activation = cls(task)
        previous = [row for row in rows if getattr(row, "incoming", False) and row.status not in _LEFT]
        if all(row.pk != arriving.pk for row in previous):
            previous.append(arriving)
        activation._prefixes = {row.token.get_common_split_prefix(task.token, row.pk) for row in previous}
        activation._unfinished = tuple(row for row in rows if row.status not in _FINISHED)
        return activation

    def _join_token_prefixes(self):
        return super()._join_token_prefixes() if self._prefixes is None else self._prefixes

    def is_done(self):
        if self._prefixes is None:
            return super().is_done()
        if len(self._prefixes) != 1:  # as viewflow: several is an error, which complete() raises
            return len(self._prefixes) > 1
        prefix = next(iter(self._prefixes))
        return not any(row.token.token.startswith(prefix) for row in self._unfinished)

    @Activation.status.super()
    def complete(self):
        """viewflow's `complete()` without its savepoint while errors propagate (an action's request):
        the savepoint only serves a background trigger that records the error on the join and carries
        on; here the error rolls the whole action back anyway."""
        if self._prefixes is None or not context.propagate_exception:
            return super().complete.original()
        if len(self._prefixes) > 1:
            raise FlowRuntimeError(f"Multiple tokens {self._prefixes} came to join {self.flow_task.name}")
        return super(JoinActivation, self).complete.original()


class ReadOnceJoin(Join):
    """A parallel join (`flow.Join`) that reads the process's tasks once per arrival."""

    activation_class = ReadOnceJoinActivation


# What a human task's action changes on its row before it completes (workflow.services: the claim, the
# start, the action's data) and the completion itself.
_COMPLETED_COLUMNS = ("status", "owner_id", "assigned", "started", "finished", "data")


class HumanActivation(ViewActivation):
    """viewflow's `ViewActivation`, whose completion writes the columns an action changes in one prepared
    UPDATE instead of saving the whole row through the ORM (every action completes one task; the ORM's
    save cost three times the statement). No `post_save` is sent: the receivers act on created tasks."""

    @Activation.status.transition(source=STATUS.STARTED, target=STATUS.DONE)
    def complete(self):
        assert connection.in_atomic_block
        self.task.finished = now()
        update_row(self.task, _COMPLETED_COLUMNS)
        task_finished.send(sender=self.flow_class, process=self.process, task=self.task)


class HumanStep(View):
    """A human step (`flow.View`) completed by `HumanActivation`."""

    activation_class = HumanActivation
