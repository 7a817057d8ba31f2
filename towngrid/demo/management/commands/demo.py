"""``towngrid demo``: migrate, build the Beicai demo town once, and serve it."""

import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from towngrid.demo.build import (
    DemoBuildError,
    build_demo_town,
    demo_logins,
    demo_town_exists,
    remove_demo_town,
)
from towngrid.demo.cases import DEFAULT_COUNT, build_demo_cases, demo_cases_exist
from towngrid.demo.serving import LOOPBACK, add_server_arguments, allow_any_host, browse_url, serve


class Command(BaseCommand):
    help = (
        "Build the Beicai (北蔡镇) demo town into the data directory once (later runs reuse it) "
        "and serve it with waitress. Refused in production mode."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--build-only", action="store_true", help="build (or reuse) the demo town, do not serve"
        )
        parser.add_argument(
            "--rebuild", action="store_true", help="delete the demo town and build it afresh"
        )
        parser.add_argument("--seed", type=int, default=2023, help="generator seed (default 2023)")
        parser.add_argument(
            "--cases",
            type=int,
            default=DEFAULT_COUNT,
            help=f"cases to play through January–June 2023 (default {DEFAULT_COUNT}; 0: none)",
        )
        parser.add_argument(
            "--scale",
            type=float,
            default=1.0,
            help="size of the registry against Beicai's (default 1.0; 0.1 builds a tenth)",
        )
        parser.add_argument(
            "--no-progress", action="store_true", help="no progress bar (for logs and CI)"
        )
        add_server_arguments(parser)

    def handle(self, *args, **options) -> None:
        if settings.PRODUCTION:
            # Demo logins share a published password; a production server must never grow them.
            raise CommandError(
                "towngrid demo 不能在生产模式下运行：TOWNGRID_PRODUCTION 已开启。"
                "Refusing to build or serve the demo town in production mode; "
                "use `towngrid serve` for production."
            )
        verbosity = options["verbosity"]
        call_command("migrate", interactive=False, verbosity=0)

        if options["rebuild"]:
            # Unconditionally: also clears a half-present town (e.g. logins without the grid).
            self.stdout.write("Removing the existing demo town …")
            try:
                remove_demo_town()
            except Exception as exc:  # ProtectedError and friends: say what to do instead
                raise CommandError(
                    f"cannot remove the demo town ({exc}); other data uses its grid. "
                    "Use a fresh --data-dir instead."
                ) from exc
        if demo_town_exists():
            self.stdout.write(f"Reusing the demo town in {self._where()}.")
        else:
            self.stdout.write(f"Building the Beicai demo town into {self._where()} …")
            try:
                summary = build_demo_town(
                    progress=not options["no_progress"] and verbosity > 0, seed=options["seed"]
                )
            except DemoBuildError as exc:
                raise CommandError(str(exc)) from exc
            self.stdout.write(
                self.style.SUCCESS(
                    "Built in {seconds} s: {micro_grids} micro-grids, {groups} 楼组/队组, "
                    "{leaders} 网格长, {full_time} 专职网格员, {part_time} 兼职网格员.".format(
                        **summary
                    )
                )
            )

        self._cases(options["cases"], progress=not options["no_progress"] and verbosity > 0)
        self._extras(
            options["scale"], options["seed"], progress=not options["no_progress"] and verbosity > 0
        )

        url = browse_url(options["host"], options["port"])
        self._print_logins(url)
        if options["build_only"]:
            return
        if options["host"] not in LOOPBACK:
            allow_any_host()
            self.stdout.write(f"Listening on {options['host']}:{options['port']} (any host name).")
        serve(host=options["host"], port=options["port"], threads=options["threads"])

    def _cases(self, count: int, *, progress: bool) -> None:
        """The category catalogue always; six months of cases once, unless asked for none."""
        from towngrid.cases.catalogue import install_catalogue
        from towngrid.cases.models import Category
        from towngrid.open311.actions import install_default_attributes

        if not Category.objects.exists():
            install_catalogue()
        install_default_attributes()
        if count <= 0 or demo_cases_exist():
            return
        self.stdout.write(f"Playing {count} cases of January–June 2023 through the workflow …")
        started = time.perf_counter()
        summary = build_demo_cases(count=count, seed=2023, progress=progress)
        closed = sum(n for k, n in summary["outcomes"].items() if k.startswith("closed"))
        self.stdout.write(
            self.style.SUCCESS(
                f"{summary['cases']} cases in {time.perf_counter() - started:.0f} s "
                f"({closed} closed, the rest open, parked or rejected)."
            )
        )

    def _extras(self, scale: float, seed: int, *, progress: bool) -> None:
        """Registry, codes and colours, devices, projects and targets, report roll-ups."""
        from towngrid.demo.extras import build_demo_extras

        if scale <= 0:
            raise CommandError("--scale 必须大于 0。--scale must be greater than 0.")

        def say(app: str, summary: dict) -> None:
            figures = ", ".join(f"{k} {v}" for k, v in summary.items() if k != "seconds")
            self.stdout.write(
                self.style.SUCCESS(f"{app}: {figures or 'done'} ({summary['seconds']} s)")
            )

        build_demo_extras(seed=seed, scale=scale, progress=progress, say=say)

    def _where(self) -> str:
        db = settings.DATABASES["default"]
        if db["ENGINE"].endswith("sqlite3"):
            return str(db["NAME"])
        return f"{db['ENGINE'].rsplit('.', 1)[-1]} database {db.get('NAME', '')}"

    def _print_logins(self, url: str) -> None:
        rows = demo_logins()
        self.stdout.write("")
        self.stdout.write(f"北蔡演示镇 / Beicai demo town: {url}")
        self.stdout.write("Demo logins (all with password towngrid-demo):")
        width = max(len(r["username"]) for r in rows) if rows else 8
        self.stdout.write(f"  {'username'.ljust(width)}  password       role / scope")
        for r in rows:
            scope = f" · {r['scope']}" if r["scope"] else ""
            self.stdout.write(
                f"  {r['username'].ljust(width)}  {r['password']}  {r['role']}{scope}"
            )
        self.stdout.write("")
