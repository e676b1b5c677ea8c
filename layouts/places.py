"""Places of the overview's place selector: the whole city, a municipality (in a
metropolitan deployment, whose districts name their parent area) or one district.

The selector's value is a district id, ``municipality:<id>``, or "" for the city; the
URL carries ``?municipality=..`` or ``?district=..``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dashboard.queries import district_options, municipality_options
from dashboard.queries.places import MUNICIPALITY, split_place
from dashboard.settings import Settings

WHOLE_CITY = ""


@dataclass(frozen=True)
class Place:
    """What the selector chose: a municipality, a district, or neither (the city)."""

    municipality: str | None = None
    district: str | None = None

    @property
    def value(self) -> str:
        """The selector's value for this place."""
        if self.district:
            return self.district
        return f"{MUNICIPALITY}{self.municipality}" if self.municipality else WHOLE_CITY


def parse_place(value: str | None) -> Place:
    """The place a selector value names, unchecked (for writing it back to the URL,
    where the page checks it on reading)."""
    municipality, district = split_place(value)
    return Place(municipality=municipality, district=district)


def read_place(value: str | None, districts: list[dict[str, Any]],
               municipalities: list[dict[str, Any]]) -> Place:
    """The place a selector value (or a forged one) names; anything unknown is the city."""
    municipality, district = split_place(value)
    if municipality is not None:
        known = {m["id"] for m in municipalities}
        return Place(municipality=municipality) if municipality in known else Place()
    return Place(district=district) if district in {d["id"] for d in districts} else Place()


def municipality_of(municipalities: list[dict[str, Any]], municipality: str | None
                    ) -> dict[str, Any] | None:
    """The ``queries.municipality_options`` entry of ``municipality`` (None: none)."""
    return next((m for m in municipalities if m["id"] == municipality), None)


def place_options(districts: list[dict[str, Any]], municipalities: list[dict[str, Any]]
                  ) -> list[dict[str, str]]:
    """"Whole city", then each municipality followed by its districts ("Getafe · Centro"),
    then districts without one; a single city's selector lists its districts as before."""
    options = [{"label": "Whole city", "value": WHOLE_CITY}]
    names = {d["id"]: d["name"] for d in districts}
    placed: set[str] = set()
    for municipality in municipalities:
        options.append({"label": f"{municipality['name']} (whole municipality)",
                        "value": f"{MUNICIPALITY}{municipality['id']}"})
        for district in sorted(municipality["districts"], key=lambda d: names.get(d, d)):
            if district in names:
                options.append({"label": f"{municipality['name']} · {names[district]}",
                                "value": district})
                placed.add(district)
    options += [{"label": d["name"], "value": d["id"]} for d in districts
                if d["id"] not in placed]
    return options


def place_title(place: Place, districts: list[dict[str, Any]],
                municipalities: list[dict[str, Any]]) -> str:
    """The chosen place's name: a district's, a municipality's, or "Whole city"."""
    if place.district:
        return next((d["name"] for d in districts if d["id"] == place.district), "Whole city")
    chosen = municipality_of(municipalities, place.municipality)
    return chosen["name"] if chosen else "Whole city"


def place_districts(place: Place, municipalities: list[dict[str, Any]]) -> list[str] | None:
    """The districts the place covers (None: the whole city)."""
    if place.district:
        return [place.district]
    chosen = municipality_of(municipalities, place.municipality)
    return list(chosen["districts"]) if chosen else None


def place_name(settings: Settings, place: str | None) -> str:
    """A page's place (a district id or ``municipality:<id>``) by its name; "Whole city"
    for none or an unknown one."""
    districts, municipalities = district_options(settings), municipality_options(settings)
    return place_title(read_place(place, districts, municipalities), districts,
                       municipalities)


def place_choices(settings: Settings) -> list[dict[str, str]] | None:
    """The place selector's options in a metropolitan deployment (``place_options``);
    None in a single city (its district selector stays as it is)."""
    municipalities = municipality_options(settings)
    return place_options(district_options(settings), municipalities) if municipalities \
        else None


def place_ids(settings: Settings, place: str | None) -> list[str]:
    """The districts a page's place covers ([] for the whole city)."""
    municipalities = municipality_options(settings)
    chosen = read_place(place, district_options(settings), municipalities)
    return place_districts(chosen, municipalities) or []


def map_selection(settings: Settings, place: str | None) -> str | list[str] | None:
    """What a map highlights for a page's place: the district's id, the municipality's
    district ids, or None (the whole city)."""
    if place and place.startswith(MUNICIPALITY):
        return place_ids(settings, place) or None
    return place or None


def selected_features(features: list[dict[str, Any]], selection: str | list[str] | None
                      ) -> list[dict[str, Any]]:
    """The district features a ``map_selection`` names."""
    chosen = set(selection) if isinstance(selection, list) else {selection}
    return [f for f in features if f["properties"]["id"] in chosen]
