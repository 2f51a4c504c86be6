from django.apps import AppConfig


class WorkflowConfig(AppConfig):
    name = "workflow"
    verbose_name = "流程"

    def ready(self):
        from workflow import signals

        signals.connect()
