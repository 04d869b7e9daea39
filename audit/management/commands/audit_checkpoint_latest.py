import json

from django.core.management.base import BaseCommand, CommandError

from audit.models import AuditCheckpoint


class Command(BaseCommand):
    help = (
        "Print the newest signed checkpoint as JSON. An outside auditor keeps it (with audit_public_key) "
        "and later runs `audit_verify --checkpoint` with it: a log rewound past it no longer verifies."
    )

    def handle(self, *args, **options):
        checkpoint = AuditCheckpoint.objects.order_by("-cp_seq").first()
        if checkpoint is None:
            raise CommandError("no checkpoint yet: run the audit_checkpoint_task (or wait for beat) first")
        self.stdout.write(json.dumps(checkpoint.as_json(), sort_keys=True))
