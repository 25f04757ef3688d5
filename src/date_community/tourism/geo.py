"""Distances and directions between sites (WGS84, spherical Earth).

The haversine formula on a sphere of the mean Earth radius is within about
0.5 % of the ellipsoidal distance; for walking legs of a few kilometres that is
a few metres, far below what a walker notices.
"""
from __future__ import annotations

import math

EARTH_RADIUS_M = 6371008.8  # IUGG mean radius

# 4 km/h rather than the usual 4.8–5 km/h: many of our visitors are older
# people walking slowly, stopping at shrines and climbing slopes; a time that
# is too short makes people hurry or miss the last bus, one that is a little
# long costs nothing.
WALKING_M_PER_MIN = 4000 / 60

_POINTS = ("N", "NE", "E", "SE", "S", "SW", "W", "NW")


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlam = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlam / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def bearing_deg(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Initial bearing from point 1 towards point 2: 0 = north, 90 = east, in [0, 360)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dlam = math.radians(lon2 - lon1)
    y = math.sin(dlam) * math.cos(phi2)
    x = math.cos(phi1) * math.sin(phi2) - math.sin(phi1) * math.cos(phi2) * math.cos(dlam)
    return math.degrees(math.atan2(y, x)) % 360.0


def compass(bearing: float) -> str:
    """The nearest of the eight compass points ("N", "NE", … "NW")."""
    return _POINTS[int(((bearing % 360.0) + 22.5) // 45) % 8]


def walking_minutes(metres: float) -> int:
    """Minutes on foot at 4 km/h, rounded up (0 m → 0 min)."""
    if metres <= 0:
        return 0
    return math.ceil(metres / WALKING_M_PER_MIN)
