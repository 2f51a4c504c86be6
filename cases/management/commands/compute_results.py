"""``manage.py compute_results INPUT.json``: score an exchange-format v1 document.

Prints the result document to stdout and exits 0. On any invalid input (unreadable file,
invalid JSON, validation errors) prints one message per line to stderr and exits with
status 2, never with a traceback. The format is described in ``docs/scoring.md``.
"""

from __future__ import annotations

import json
import sys

from django.core.management.base import BaseCommand

from cases.scoring.exchange import ScoringInputError, compute_exchange, load_exchange_text

EXIT_INVALID_INPUT = 2


class Command(BaseCommand):
    help = (
        "Compute panel scores, totals, ranks, grades and movement from a scoring "
        "exchange document (JSON format v1). Use '-' to read standard input."
    )
    # Pure computation: no database, so the system checks are not needed.
    requires_system_checks: tuple[str, ...] = ()
    # call_command(..., stdin=io.StringIO(...)) for tests and embedding.
    stealth_options = ("stdin",)

    def add_arguments(self, parser):
        parser.add_argument("input", help="path of the JSON document, or '-' for stdin")

    def handle(self, *args, **options):
        try:
            text = self._read(options["input"], options.get("stdin") or sys.stdin)
            output = compute_exchange(load_exchange_text(text))
        except ScoringInputError as exc:
            for message in exc.messages:
                self.stderr.write(message)
            # SystemExit rather than CommandError: Django would prefix the first line with
            # "CommandError: " and the messages must stay one clean path-named line each.
            raise SystemExit(EXIT_INVALID_INPUT) from None
        self.stdout.write(json.dumps(output, ensure_ascii=False, indent=2))

    @staticmethod
    def _read(path: str, stdin) -> str:
        if path == "-":
            try:
                return stdin.read()
            except UnicodeDecodeError as exc:
                raise ScoringInputError([f"input: not valid UTF-8 ({exc.reason})"]) from None
        try:
            with open(path, encoding="utf-8-sig") as handle:
                return handle.read()
        except FileNotFoundError:
            raise ScoringInputError([f"input: file not found: {path}"]) from None
        except IsADirectoryError:
            raise ScoringInputError([f"input: is a directory: {path}"]) from None
        except UnicodeDecodeError as exc:
            raise ScoringInputError([f"input: {path} is not valid UTF-8 ({exc.reason})"]) from None
        except OSError as exc:
            raise ScoringInputError([f"input: cannot read {path}: {exc.strerror}"]) from None
