"""Benchmark of the scan path: what a phone waits for between the QR scan and the card.

    .venv/bin/python bench/codes_scan.py [--scans N] [--scale S] [--data-dir DIR]

Builds (or reuses, with ``--data-dir``) the demo town at ``--scale`` (default 0.02) into a
SQLite data directory (or PostgreSQL when ``DATABASE_URL`` is set), takes N live house codes and
measures, in the same process:

1. **verify** — ``tokens.verify`` (parse, base32, key, HMAC, constant-time compare) against one
   bare HMAC-SHA256 of 10 bytes with a precomputed key (the floor of any signature check);
2. **resolve** — ``queries.code_for_token`` + ``subject_of`` (signature, one indexed lookup of the
   code, one of the object) against a bare ``ObjectCode.objects.get(token=…)``;
3. **public card** — ``queries.public_card`` (adds the grid's duty roster) per scan;
4. **route** — ``patrols.route_for_day`` for the gridworker login.

Prints rates and the ratios against the baselines; no thresholds (see docs/codes.md).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def setup(data_dir: str | None, scale: float) -> None:
    import django

    os.environ["TOWNGRID_DATA_DIR"] = data_dir or tempfile.mkdtemp(prefix="towngrid-scan-")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "towngrid.settings")
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from towngrid.demo.build import build_demo_town, demo_town_exists
    from towngrid.demo.extras import build_demo_extras

    if not demo_town_exists():
        build_demo_town(progress=False)
    build_demo_extras(scale=scale)


def rate(label: str, n: int, seconds: float) -> float:
    per_second = n / seconds if seconds else float("inf")
    print(f"{label:<38} {n:>7} in {seconds:6.3f} s  {per_second:>10,.0f}/s")
    return per_second


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scans", type=int, default=2000)
    parser.add_argument("--scale", type=float, default=0.02)
    parser.add_argument("--data-dir")
    args = parser.parse_args()
    setup(args.data_dir, args.scale)

    import hmac

    from towngrid.accounts.models import User
    from towngrid.codes import objects, patrols, queries, tokens
    from towngrid.codes.models import ObjectCode
    from towngrid.registry.models import House

    ct = objects.content_type_of(House)
    codes = list(
        ObjectCode.objects.filter(content_type=ct, revoked_at=None).values_list("token", flat=True)[
            : args.scans
        ]
    )
    n = len(codes)
    print(f"{n} live house codes")

    import hashlib

    key, message = b"k" * 32, b"m" * 10
    started = time.perf_counter()
    for _ in codes:
        hmac.new(key, message, hashlib.sha256).digest()
    base = rate("baseline: one HMAC-SHA256", n, time.perf_counter() - started)
    started = time.perf_counter()
    for token in codes:
        tokens.verify(token)
    verify = rate("tokens.verify", n, time.perf_counter() - started)

    started = time.perf_counter()
    for token in codes:
        ObjectCode.objects.get(token=token)
    lookup = rate("baseline: ObjectCode.objects.get", n, time.perf_counter() - started)
    started = time.perf_counter()
    found = []
    for token in codes:
        code = queries.code_for_token(token)
        found.append(queries.subject_of(code))
    resolve = rate("code_for_token + subject_of", n, time.perf_counter() - started)

    started = time.perf_counter()
    for obj in found:
        queries.public_card(obj)
    card = rate("public_card", n, time.perf_counter() - started)

    worker = User.objects.get(username="gridworker")
    started = time.perf_counter()
    rounds = 20
    for _ in range(rounds):
        stops = patrols.route_for_day(worker)["stops"]
    rate(f"route_for_day ({len(stops)} stops)", rounds, time.perf_counter() - started)

    print()
    print(f"verify / one HMAC                 {verify / base:8.3f}")
    print(f"resolve / bare lookup             {resolve / lookup:8.3f}")
    print(f"public card / bare lookup         {card / lookup:8.3f}")


if __name__ == "__main__":
    main()
