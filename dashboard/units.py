"""One unit per metric wherever people read it: values are stored in their source's unit
(a fill level as a ratio 0..1), and shown in one display unit (the fill level in %), on
cards, tables, alerts, the asset page, the API's display fields and exports alike."""
from __future__ import annotations

import re

# stored unit -> (factor, unit shown)
DISPLAY: dict[str, tuple[float, str]] = {"ratio": (100.0, "%")}
# One spelling per unit, whatever the source wrote (UN/CEFACT codes, ASCII exponents).
SPELLING = {"µg/m3": "µg/m³", "ug/m3": "µg/m³", "μg/m3": "µg/m³", "μg/m³": "µg/m³",
            "mg/m3": "mg/m³", "m3": "m³", "m3/h": "m³/h", "Cel": "°C", "CEL": "°C",
            "dBA": "dB(A)", "db(A)": "dB(A)"}
# UN/CEFACT Recommendation 20 codes (NGSI unitCode) seen in city data -> the symbols
# stored (the NGSI connector reads codes with it, the NGSI-LD server writes them back).
UNIT_CODES: dict[str, str] = {
    "GQ": "µg/m3", "GP": "mg/m3", "59": "ppm", "61": "ppb", "CEL": "°C", "FAH": "°F",
    "KEL": "K", "P1": "%", "MTS": "m/s", "KMH": "km/h", "MTR": "m", "CMT": "cm", "MMT": "mm",
    "KTM": "km", "WTT": "W", "KWT": "kW", "MAW": "MW", "WHR": "Wh", "KWH": "kWh", "VLT": "V",
    "AMP": "A", "SEC": "s", "MIN": "min", "HUR": "h", "2N": "dB", "A97": "hPa", "BAR": "bar",
    "PAL": "Pa", "KGM": "kg", "TNE": "t", "LTR": "l", "MTQ": "m3", "MQH": "m3/h", "LUX": "lx",
    "DD": "°", "C62": "1", "H87": "pieces",
}
# Measures people know by their symbols.
METRIC_LABELS = {"no2": "NO₂", "o3": "O₃", "pm10": "PM10", "pm25": "PM2.5", "pm1": "PM1",
                 "so2": "SO₂", "co": "CO", "co2": "CO₂", "nh3": "NH₃", "LAeq": "Noise (LAeq)",
                 "LAmax": "Noise peak (LAmax)", "pH": "pH"}

_LABELS_ANY_CASE = {code.lower(): label for code, label in METRIC_LABELS.items()}


def words(name: str) -> str:
    """``fillingLevel`` / ``WasteContainer`` -> ``Filling level`` / ``Waste container``."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).replace("_", " ").strip()
    return spaced[:1].upper() + spaced[1:].lower() if spaced else name


def unit_label(unit: str | None) -> str:
    """A unit in its one spelling (``µg/m3`` -> ``µg/m³``)."""
    return SPELLING.get(unit or "", unit or "")


def metric_label(metric: str) -> str:
    """``fillingLevel`` -> ``Filling level``; pollutant and noise codes get their symbols
    (``no2`` -> ``NO₂``, ``LAeq`` -> ``Noise (LAeq)``) whatever their case."""
    return METRIC_LABELS.get(metric) or _LABELS_ANY_CASE.get(metric.lower()) or words(metric)


def shown(value: float | None, unit: str | None) -> tuple[float | None, str]:
    """A stored value and unit as people read them: a ratio as a percentage, each unit in
    its one spelling."""
    factor, display = DISPLAY.get(unit or "", (1.0, unit_label(unit)))
    return (None if value is None else value * factor), display


def with_display(row: dict[str, object], unit: str | None) -> dict[str, object]:
    """An alert row (its stored ``value``) with ``display_value`` and ``display_unit``."""
    value = row.get("value")
    number, display = shown(float(value) if isinstance(value, (int, float)) else None, unit)
    return {**row, "display_value": number, "display_unit": display}
