"""python manage.py create_api_token NAME --channel SLUG: a bearer token for an integration.

The token is printed once; only its hash is stored. Revoke it in the back office."""

from django.core.management.base import BaseCommand, CommandError

from core.errors import ValidationFailed
from orders.models import SalesChannel
from orders.tokens import api_token_create


class Command(BaseCommand):
    help = (
        "Create an API token for an integration, bound to a sales channel. Prints the token once."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help='The integration, e.g. "Marketplace sync".')
        parser.add_argument(
            "--channel", required=True, help="Slug of the sales channel its orders belong to."
        )

    def handle(self, *args, name, channel, **options):
        found = SalesChannel.objects.filter(slug=channel).first()
        if found is None:
            known = (
                ", ".join(SalesChannel.objects.order_by("slug").values_list("slug", flat=True))
                or "none yet"
            )
            raise CommandError(f"No sales channel {channel!r}. Channels: {known}.")
        try:
            token, raw = api_token_create(name=name, channel=found, actor=None)
        except ValidationFailed as exc:
            raise CommandError(" ".join(m for msgs in exc.errors.values() for m in msgs)) from exc
        self.stderr.write(
            f"Created API token {token.name!r} for channel {found.name} ({found.slug}). "
            "It is shown only now; store it in the integration's secrets:"
        )
        self.stdout.write(raw)
        self.stderr.write(
            "Send it as: Authorization: Bearer <token>. Revoke it in the back office (API tokens)."
        )
