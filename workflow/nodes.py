"""Engine extensions that the open-source viewflow 2.4 lacks."""

from viewflow.workflow.activation import Activation
from viewflow.workflow.exceptions import FlowRuntimeError
from viewflow.workflow.flow import Split
from viewflow.workflow.nodes.split import SplitActivation


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
