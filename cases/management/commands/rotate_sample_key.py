"""Re-encrypt every sample-frame row (every version) from one data key to another, and recompute the
person hashes under the new key, in one transaction.

    SAMPLE_DATA_KEY=<old> manage.py rotate_sample_key --old <old key> --new <new key>

then deploy with SAMPLE_DATA_KEY=<new>. `--old derived` names the key derived from SECRET_KEY (what an
installation without SAMPLE_DATA_KEY used). A row the old key cannot decrypt stops the command with
nothing changed.
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from cases.services.audit import audit
from cases.social.crypto import Cipher, InvalidToken, derived_key
from cases.social.models import SampleFrame, SampleRow


class Command(BaseCommand):
    help = "Re-encrypt sample-frame personal data with a new key (old and new Fernet keys given)."

    def add_arguments(self, parser):
        parser.add_argument("--old", required=True, help="the current key, or 'derived' (from SECRET_KEY)")
        parser.add_argument("--new", required=True, help="the new Fernet key (32 url-safe base64 bytes)")

    def handle(self, *args, old: str, new: str, **options):
        if old == "derived":
            old = derived_key(settings.SECRET_KEY)
        try:
            old_cipher, new_cipher = Cipher(old), Cipher(new)
        except ValueError as exc:
            raise CommandError(f"not a Fernet key: {exc}") from None
        done = 0
        with transaction.atomic():
            batch: list[SampleRow] = []
            for row in SampleRow.objects.select_for_update().order_by("pk").iterator(chunk_size=2000):
                try:
                    name = old_cipher.decrypt(row.name)
                    office_phone = old_cipher.decrypt(row.office_phone)
                    mobile = old_cipher.decrypt(row.mobile)
                except InvalidToken:
                    raise CommandError(f"row {row.pk} cannot be decrypted with the old key; nothing changed") from None
                row.name, row.office_phone, row.mobile = (new_cipher.encrypt(name), new_cipher.encrypt(office_phone),
                                                          new_cipher.encrypt(mobile))
                row.person_hash = new_cipher.person_hash(name, mobile) if row.person_hash else ""
                batch.append(row)
                if len(batch) >= 2000:
                    SampleRow.objects.bulk_update(batch, ["name", "office_phone", "mobile", "person_hash"])
                    done += len(batch)
                    batch = []
            SampleRow.objects.bulk_update(batch, ["name", "office_phone", "mobile", "person_hash"])
            done += len(batch)
            for frame in SampleFrame.objects.all().only("pk", "round_id"):
                audit(actor=None, action="sample_frame.rotate_key", obj=frame, round_id=frame.round_id)
        self.stdout.write(f"re-encrypted {done} rows")
