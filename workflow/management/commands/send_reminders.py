from django.core.management.base import BaseCommand

from workflow.deadlines.reminders import sweep


class Command(BaseCommand):
    help = "Send the deadline reminders, overdue notices and escalations that have come due (idempotent)."

    def handle(self, *args, **options):
        counts = sweep()
        self.stdout.write(" ".join(f"{key}={value}" for key, value in counts.items()))
