from django.core.management.base import BaseCommand

from cases import models as m
from workflow.demo import LOGINS, PASSWORD, Demo


class Command(BaseCommand):
    help = "Load the demo rounds (seed 000 groups and units, seed 003 rubric) unless already loaded."

    def handle(self, *args, **options):
        if m.User.objects.filter(username="office").exists():
            self.stdout.write("Demo data already present.")
        else:
            built = Demo().build()
            self.stdout.write(f"Demo round: {built['round'].title} ({built['round'].cases.count()} units)")
        self.stdout.write(f"Demo logins (password for all: {PASSWORD}):")
        for username, role in LOGINS:
            self.stdout.write(f"  {username:<12} {role}")
