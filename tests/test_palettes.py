"""Every categorical palette a chart uses is told apart by colour-blind readers.

Each pair of colours of a palette must stay at least ``MIN_DELTA_E`` apart (CIELAB ΔE*76)
as seen with normal vision and as simulated for protanopia and deuteranopia (Machado,
Oliveira and Fernandes 2009, severity 1.0, applied to linear sRGB). The palettes are
imported from the layouts that draw them, so a colour changed there is checked here.
"""
from __future__ import annotations

import itertools
import tempfile
from typing import Any

import numpy as np
import pytest

from dashboard.settings import Settings

MIN_DELTA_E = 10.0
MACHADO = {  # linear RGB -> linear RGB as the dichromat sees it
    "protanopia": np.array([[0.152286, 1.052583, -0.204868],
                            [0.114503, 0.786281, 0.099216],
                            [-0.003882, -0.048116, 1.051998]]),
    "deuteranopia": np.array([[0.367322, 0.860646, -0.227968],
                              [0.280085, 0.672501, 0.047413],
                              [-0.011820, 0.042940, 0.968881]]),
}
VISIONS = ["normal", *MACHADO]
SRGB_TO_XYZ = np.array([[0.4124564, 0.3575761, 0.1804375],
                        [0.2126729, 0.7151522, 0.0721750],
                        [0.0193339, 0.1191920, 0.9503041]])
WHITE_D65 = np.array([0.95047, 1.0, 1.08883])


def linear_rgb(hex_colour: str) -> np.ndarray:
    code = hex_colour.lstrip("#")
    srgb = np.array([int(code[i:i + 2], 16) / 255 for i in (0, 2, 4)])
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)


def lab(hex_colour: str, vision: str = "normal") -> np.ndarray:
    """CIELAB (D65) of a colour as seen with ``vision``."""
    rgb = linear_rgb(hex_colour)
    if vision != "normal":
        rgb = np.clip(MACHADO[vision] @ rgb, 0.0, 1.0)
    xyz = SRGB_TO_XYZ @ rgb / WHITE_D65
    f = np.where(xyz > 216 / 24389, np.cbrt(xyz), (24389 / 27 * xyz + 16) / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def delta_e(one: str, other: str, vision: str) -> float:
    return float(np.linalg.norm(lab(one, vision) - lab(other, vision)))


def closest_pair(palette: dict[str, str]) -> tuple[float, str, str, str]:
    """The smallest ΔE between two different colours of ``palette`` over every vision."""
    distinct = {colour.lower(): name for name, colour in palette.items()}  # one per colour
    return min((delta_e(a, b, vision), distinct[a], distinct[b], vision)
               for a, b in itertools.combinations(distinct, 2) for vision in VISIONS)


@pytest.fixture(scope="module")
def palettes() -> dict[str, dict[str, str]]:
    """Every categorical palette of a chart (and of the domain map's states), by name."""
    from app import create_app

    create_app(Settings(var_dir=tempfile.mkdtemp(), database_url="", redis_url=None))
    from layouts import SEVERITY_COLOURS, STATUS_COLOURS
    from layouts.asset_chart import COMPARE, LINE
    from layouts.domain_parts import STATE_COLOURS
    from layouts.feeds import RUN_COLOURS
    from layouts.insights_parts import CHANNEL_STYLE, UNKNOWN_STYLE
    from layouts.services_parts import CLOSED_COLOUR, RECEIVED_COLOUR

    return {
        "insights: channels": {**{c: colour for c, (_, colour) in CHANNEL_STYLE.items()},
                               "unknown": UNKNOWN_STYLE[1]},
        "alerts per day: severities": dict(SEVERITY_COLOURS),
        "asset chart": {**SEVERITY_COLOURS, "series": LINE, "compared": COMPARE},
        "district scores: statuses": {s: STATUS_COLOURS[s] for s in ("on", "near", "off")},
        "feed runs": dict(RUN_COLOURS),
        "services trend": {"received": RECEIVED_COLOUR, "closed": CLOSED_COLOUR},
        "domain map: asset states": dict(STATE_COLOURS),
    }


def test_every_chart_palette_survives_protanopia_and_deuteranopia(
        palettes: dict[str, dict[str, str]]) -> None:
    too_close = {name: closest_pair(palette) for name, palette in palettes.items()
                 if closest_pair(palette)[0] < MIN_DELTA_E}
    assert too_close == {}


def test_the_check_catches_the_old_browns_and_blues() -> None:
    """The channel colours before this check: phone and in person two browns of the same
    lightness, web and e-mail the same to a deuteranope; and the alert severities' red and
    brown-orange."""
    old_channels = {"web": "#0b4f8a", "app": "#4a90d9", "kiosk": "#00838f", "email": "#6a3d9a",
                    "social": "#ad1457", "phone": "#a35200", "in_person": "#8c5a2b"}
    assert closest_pair(old_channels)[0] < MIN_DELTA_E
    assert delta_e(old_channels["web"], old_channels["email"], "deuteranopia") < MIN_DELTA_E
    assert abs(lab(old_channels["phone"])[0] - lab(old_channels["in_person"])[0]) < 3
    assert delta_e("#b3261e", "#a35200", "deuteranopia") < MIN_DELTA_E


def test_the_simulation_keeps_grey_and_confuses_red_with_green() -> None:
    """Sanity of the matrices: greys stay grey; a red and a green of equal lightness that
    normal vision tells far apart come out close."""
    for vision in MACHADO:
        assert delta_e("#777777", "#777777", vision) == 0
        assert np.allclose(lab("#777777", vision)[1:], 0, atol=1.5)
    assert delta_e("#b35900", "#5f7f00", "normal") > 40
    assert delta_e("#b35900", "#5f7f00", "deuteranopia") < 15


def test_the_asset_chart_tells_severities_apart_without_colour(palettes: Any) -> None:
    """Threshold lines and alert markers differ in dash and shape per severity, and no
    threshold is drawn like the series (solid) or the compared period (dotted)."""
    from layouts import SEVERITY_LABELS
    from layouts.asset_chart import SEVERITY_DASH, SEVERITY_SYMBOL, _threshold_shape

    dashes = [_threshold_shape({"severity": s, "threshold": 1, "operator": ">"})["line"]["dash"]
              for s in SEVERITY_LABELS]
    assert len(set(dashes)) == len(dashes) and not {"solid", "dot"} & set(dashes)
    assert set(SEVERITY_DASH) == set(SEVERITY_SYMBOL) == set(SEVERITY_LABELS)
    assert len(set(SEVERITY_SYMBOL.values())) == len(SEVERITY_SYMBOL)
