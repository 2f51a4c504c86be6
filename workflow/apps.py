from django.apps import AppConfig


class WorkflowConfig(AppConfig):
    name = "workflow"
    verbose_name = "流程"

    def ready(self):
        from workflow import signals
        from workflow.deadlines import documents

        signals.connect()
        documents.register()  # the reminder letter's overdue list (notifications cannot import workflow)
