"""The weather/time-of-day domains of the study: one vocabulary for every dataset.

Each dataset adapter maps its own condition names (ACDC `fog`, IDD-AW `LOWLIGHT`,
BDD100K `timeofday=dawn/dusk`, ...) onto these. Analyses group and compare by them.
"""

from __future__ import annotations

from prove.errors import ProveError

CLEAR_DAY = "clear_day"
DOMAINS: tuple[str, ...] = (
    CLEAR_DAY,
    "cloudy",
    "dawn_dusk",
    "foggy",
    "night",
    "rainy",
    "snowy",
)
ADVERSE_DOMAINS: tuple[str, ...] = tuple(d for d in DOMAINS if d != CLEAR_DAY)


def check_domain(domain: str, where: str = "") -> str:
    """Return `domain` if it is in the vocabulary, else raise naming the accepted ones."""
    if domain not in DOMAINS:
        at = f" ({where})" if where else ""
        raise ProveError(f"unknown domain {domain!r}{at}; accepted: {', '.join(DOMAINS)}")
    return domain
