"""``towngrid serve``: serve towngrid with waitress (production; no demo build)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from towngrid.demo.serving import LOOPBACK, add_server_arguments, browse_url, serve


class Command(BaseCommand):
    help = (
        "Serve towngrid with waitress, static files through WhiteNoise. Run `towngrid migrate` "
        "first; put a reverse proxy (nginx) in front in production."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_server_arguments(parser)

    def handle(self, *args, **options) -> None:
        url = browse_url(options["host"], options["port"])
        self.stdout.write(f"towngrid serving on {url} ({options['threads']} threads)")
        if options["host"] not in LOOPBACK and "*" not in settings.ALLOWED_HOSTS:
            self.stdout.write(
                f"Host names accepted: {', '.join(settings.ALLOWED_HOSTS)} "
                "(set TOWNGRID_ALLOWED_HOSTS to the names clients use)."
            )
        serve(host=options["host"], port=options["port"], threads=options["threads"])
