from django.apps import AppConfig


class WorkflowConfig(AppConfig):
    name = "workflow"
    verbose_name = "流程"

    def ready(self):
        from cases.objections.services import register_workday_counter
        from workflow import signals
        from workflow.deadlines import documents
        from workflow.deadlines.calendar import add_workdays

        signals.connect()
        register_workday_counter(add_workdays)  # publication (公示) periods in working days, 调休 included
        documents.register()  # the reminder letter's overdue list (notifications cannot import workflow)
