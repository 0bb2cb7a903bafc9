import math

EARTH_RADIUS_M = 6_371_008.8  # mean Earth radius (IUGG)


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlambda = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def degrees_per_metre(lat: float, reach_m: float) -> tuple[float, float | None]:
    """Degrees of latitude and of longitude per metre, for boxes up to `reach_m` around a
    point at `lat`. The longitude figure is the largest on that reach (at the box's edge
    nearest a pole), so a box built with it never misses; None where a box of that reach
    comes near a pole and longitude cannot narrow anything."""
    lat_per_m = math.degrees(1 / EARTH_RADIUS_M)
    edge = abs(lat) + reach_m * lat_per_m
    if edge >= 89.0:
        return lat_per_m, None
    return lat_per_m, lat_per_m / math.cos(math.radians(edge))
