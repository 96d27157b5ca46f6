"""Fixed reference data of the demo: merchant subsectors, item categories, reward programs, cities.

Nothing here is random. Each subsector and item category carries its share of purchases, its
fraud risk before and after concept drift, and how far covariate drift tilts its share; the
drawing (`mlmon.demo.transactions`) and the fraud rule (`mlmon.demo.fraud`) read them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "Subsector",
    "SUBSECTORS",
    "ALL_SUBSECTORS",
    "NEW_SUBSECTOR",
    "SUBSECTOR_NAMES",
    "ITEM_CATEGORIES",
    "ITEM_NAMES",
    "ITEM_WEIGHTS",
    "ITEM_TILT",
    "REWARD_PROGRAMS",
    "CITIES",
]


@dataclass(frozen=True)
class Subsector:
    name: str
    weight: float  # share of purchases in the training months
    log_amount: float  # median purchase amount, log dollars
    risk: float  # fraud log-odds contribution before concept drift
    risk_new: float  # ... and once the fraud pattern has changed
    tilt: float  # log-weight change at full covariate drift


SUBSECTORS: tuple[Subsector, ...] = (
    Subsector("gas", 0.14, 3.6, -0.3, 1.4, -2.4),
    Subsector("groceries", 0.18, 4.0, -0.7, 0.9, -2.3),
    Subsector("restaurant/dining", 0.13, 3.7, -0.4, -0.3, -0.5),
    Subsector("fast food", 0.08, 2.7, -0.6, 0.7, 0.7),
    Subsector("apparel", 0.09, 4.4, 0.0, -0.5, 1.4),
    Subsector("electronics", 0.07, 5.6, 0.8, 0.1, 2.4),
    Subsector("luxury goods", 0.03, 6.3, 1.2, -0.4, 2.3),
    Subsector("travel/airlines", 0.06, 6.0, 0.5, -0.1, 1.7),
    Subsector("pharmacy", 0.07, 3.5, -0.5, -0.5, -1.0),
    Subsector("entertainment", 0.06, 4.0, 0.1, 0.7, 2.3),
    Subsector("books", 0.04, 3.3, -0.4, -0.8, -1.1),
    Subsector("telecom", 0.05, 4.3, 0.2, 1.2, 2.3),
)
# Absent from the training months; risky under both fraud patterns, unknown to the model.
_NEW = Subsector("crypto exchange", 0.0, 5.4, 1.5, 2.0, 0.0)
NEW_SUBSECTOR = _NEW.name
# The new subsector goes last: its index is the one extra weight appended when drawing.
ALL_SUBSECTORS: tuple[Subsector, ...] = SUBSECTORS + (_NEW,)
SUBSECTOR_NAMES = np.array([s.name for s in ALL_SUBSECTORS], dtype=object)

ITEM_CATEGORIES: tuple[str, ...] = ("A", "B", "C", "D", "E")
ITEM_NAMES = np.array(ITEM_CATEGORIES, dtype=object)
ITEM_WEIGHTS = np.array([0.32, 0.26, 0.20, 0.14, 0.08])
ITEM_TILT = np.array([-2.3, -1.0, 0.0, 1.7, 3.4])

REWARD_PROGRAMS: tuple[str, ...] = ("cash_back", "points", "travel", "dining")

# (latitude, longitude, population in millions); where cardholders live and merchants sit.
CITIES = np.array(
    [
        (40.7128, -74.0060, 8.3),  # New York
        (34.0522, -118.2437, 3.9),  # Los Angeles
        (41.8781, -87.6298, 2.7),  # Chicago
        (29.7604, -95.3698, 2.3),  # Houston
        (33.4484, -112.0740, 1.6),  # Phoenix
        (39.9526, -75.1652, 1.6),  # Philadelphia
        (29.4241, -98.4936, 1.5),  # San Antonio
        (32.7157, -117.1611, 1.4),  # San Diego
        (32.7767, -96.7970, 1.3),  # Dallas
        (37.3382, -121.8863, 1.0),  # San Jose
        (30.2672, -97.7431, 0.95),  # Austin
        (30.3322, -81.6557, 0.9),  # Jacksonville
        (39.9612, -82.9988, 0.88),  # Columbus
        (37.7749, -122.4194, 0.88),  # San Francisco
        (35.2271, -80.8431, 0.86),  # Charlotte
        (39.7684, -86.1581, 0.86),  # Indianapolis
        (47.6062, -122.3321, 0.72),  # Seattle
        (39.7392, -104.9903, 0.70),  # Denver
        (42.3601, -71.0589, 0.68),  # Boston
        (42.3314, -83.0458, 0.67),  # Detroit
        (36.1627, -86.7816, 0.66),  # Nashville
        (45.5152, -122.6784, 0.65),  # Portland
        (36.1699, -115.1398, 0.64),  # Las Vegas
        (33.7490, -84.3880, 0.47),  # Atlanta
        (25.7617, -80.1918, 0.46),  # Miami
        (44.9778, -93.2650, 0.41),  # Minneapolis
        (29.9511, -90.0715, 0.39),  # New Orleans
        (40.7608, -111.8910, 0.20),  # Salt Lake City
    ]
)
