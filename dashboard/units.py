"""One unit per metric wherever people read it: values are stored in their source's unit
(a fill level as a ratio 0..1), and shown in one display unit (the fill level in %), on
cards, tables, alerts, the asset page, the API's display fields and exports alike."""
from __future__ import annotations

# stored unit -> (factor, unit shown)
DISPLAY: dict[str, tuple[float, str]] = {"ratio": (100.0, "%")}


def shown(value: float | None, unit: str | None) -> tuple[float | None, str]:
    """A stored value and unit as people read them: a ratio as a percentage."""
    factor, display = DISPLAY.get(unit or "", (1.0, unit or ""))
    return (None if value is None else value * factor), display


def with_display(row: dict[str, object], unit: str | None) -> dict[str, object]:
    """An alert row (its stored ``value``) with ``display_value`` and ``display_unit``."""
    value = row.get("value")
    number, display = shown(float(value) if isinstance(value, (int, float)) else None, unit)
    return {**row, "display_value": number, "display_unit": display}
