from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from cases import models as m
from cases.rubrics.document import RubricError
from cases.rubrics.services import rubric_import
from cases.rubrics.upload import load_upload

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "rubrics"


class Command(BaseCommand):
    help = "Load rubric files (YAML, JSON or Excel); without arguments, the ready-made seed rubrics."

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="*", type=Path)

    def handle(self, *args, paths, **options):
        for path in paths or sorted(FIXTURES.glob("*.yaml")):
            try:
                spec = load_upload(path.name, path.read_bytes())
            except OSError as exc:
                raise CommandError(f"{path}: {exc}") from None
            except RubricError as exc:
                raise CommandError(f"{path}:\n" + "\n".join(exc.messages)) from None
            if m.Rubric.objects.filter(code=spec.code, version=spec.version).exists():
                self.stdout.write(f"{path.name}: {spec.code} v{spec.version} already loaded")
                continue
            rubric = rubric_import(user=None, spec=spec)
            self.stdout.write(f"{path.name}: loaded {rubric.code} v{rubric.version}, "
                              f"{rubric.items.count()} items, {rubric.total_max} points")
