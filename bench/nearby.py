#!/usr/bin/env python
"""`/rooms/nearby` with many fenced rooms in one city: the query as it is now (each room's
own bounding box tested in SQL, so only rooms that may hold the point leave the database)
beside the baseline it replaced (one box of the largest allowed radius in SQL, then Python
over every room in it), timed in the same run on the same data.

    python bench/nearby.py [--rooms 20000] [--database-url postgres://…]

Without --database-url it runs on a temporary SQLite file (the embedded default); with
one, on a scratch database `<name>_bench_nearby` created on that server and dropped after.
"""

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CITY = (31.2304, 121.4737)  # the venue of the tests: Shanghai
SPREAD_DEG = 0.35  # rooms within about ±39 km of the centre
RUNS = 30


def setup(database_url: str | None) -> str | None:
    scratch = None
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "huiliao_site.settings")
    os.environ.pop("REDIS_URL", None)
    if database_url:
        import psycopg

        parts = urlsplit(database_url)
        scratch = f"{parts.path.lstrip('/') or 'postgres'}_bench_nearby"
        admin = urlunsplit(parts._replace(path="/postgres"))
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{scratch}"')
            conn.execute(f'CREATE DATABASE "{scratch}"')
        os.environ["DATABASE_URL"] = urlunsplit(parts._replace(path=f"/{scratch}"))
        os.environ["DB_POOL_MAX"] = "0"
    else:
        os.environ.pop("DATABASE_URL", None)
        os.environ["SQLITE_PATH"] = str(Path(tempfile.mkdtemp()) / "nearby.sqlite3")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return scratch


def fill(count: int) -> None:
    from accounts.models import User
    from rooms.models import GEOFENCE_MAX_RADIUS_M, Room, generate_room_code

    owner = User.objects.create(username="bench-owner", nickname="Owner")
    rng = random.Random(7)
    rooms, codes = [], set()
    while len(rooms) < count:
        code = generate_room_code()
        if code in codes:
            continue
        codes.add(code)
        rooms.append(
            Room(
                code=code,
                name=f"Hall {len(rooms)}",
                owner=owner,
                latitude=CITY[0] + rng.uniform(-SPREAD_DEG, SPREAD_DEG),
                longitude=CITY[1] + rng.uniform(-SPREAD_DEG, SPREAD_DEG),
                # Mostly halls (100-500 m), a few campus-wide fences, one city-wide.
                radius_m=rng.choice([100, 200, 300, 500, 500, 2000]),
            )
        )
    rooms[0].radius_m = GEOFENCE_MAX_RADIUS_M
    Room.objects.bulk_create(rooms, batch_size=2000)


def baseline_nearby(latitude: float, longitude: float, limit: int = 50) -> list:
    """The query this replaced: a box of the largest radius in SQL, Python over the rest."""
    import math

    from django.db.models import Q
    from django.utils import timezone

    from rooms import geo
    from rooms.models import GEOFENCE_MAX_RADIUS_M, Room
    from rooms.selectors import CURRENT_MEMBER_COUNT, with_owner

    now = timezone.now()
    dlat = math.degrees(GEOFENCE_MAX_RADIUS_M / geo.EARTH_RADIUS_M)
    dlon = math.degrees(
        GEOFENCE_MAX_RADIUS_M / (geo.EARTH_RADIUS_M * math.cos(math.radians(latitude)))
    )
    candidates = with_owner(
        Room.objects.filter(closed_at__isnull=True, radius_m__isnull=False)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .filter(latitude__gte=latitude - dlat, latitude__lte=latitude + dlat)
        .filter(longitude__gte=longitude - dlon, longitude__lte=longitude + dlon)
    ).annotate(member_count=CURRENT_MEMBER_COUNT)
    found = []
    for room in candidates:
        distance = geo.distance_m(latitude, longitude, room.latitude, room.longitude)
        if distance <= room.radius_m:
            room.distance_m = distance
            found.append(room)
    found.sort(key=lambda room: room.distance_m)
    return found[:limit]


def timed(fn, points) -> tuple[float, int]:
    """Median ms per call over the points, and the rooms found (to compare answers)."""
    found = 0
    samples = []
    for latitude, longitude in points:
        started = time.perf_counter()
        rooms = fn(latitude=latitude, longitude=longitude)
        samples.append((time.perf_counter() - started) * 1000)
        found += len(rooms)
    return statistics.median(samples), found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rooms", type=int, default=20_000)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} (cores: {os.cpu_count()})")
    scratch = setup(args.database_url)
    try:
        fill(args.rooms)
        from rooms.selectors import rooms_nearby

        rng = random.Random(11)
        points = [
            (CITY[0] + rng.uniform(-0.2, 0.2), CITY[1] + rng.uniform(-0.2, 0.2))
            for _ in range(RUNS)
        ]
        timed(rooms_nearby, points[:3])  # warm up both paths
        timed(baseline_nearby, points[:3])
        now_ms, now_found = timed(rooms_nearby, points)
        base_ms, base_found = timed(baseline_nearby, points)
        backend = "PostgreSQL" if args.database_url else "SQLite"
        print(f"{backend}, {args.rooms} fenced rooms, median of {RUNS} points:")
        print(f"  baseline (largest-radius box, Python over it): {base_ms:8.1f} ms")
        print(f"  now (each room's own box in SQL):              {now_ms:8.1f} ms")
        print(f"  speed-up: {base_ms / now_ms:.1f}x; rooms found: {now_found} vs {base_found}")
        assert now_found == base_found, "the two queries must find the same rooms"
    finally:
        if scratch:
            from django.db import connections

            connections.close_all()
            import psycopg

            parts = urlsplit(args.database_url)
            admin = urlunsplit(parts._replace(path="/postgres"))
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{scratch}"')


if __name__ == "__main__":
    main()
