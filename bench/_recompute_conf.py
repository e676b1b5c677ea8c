"""gunicorn settings for ``bench/live.py``'s recompute mode: each worker computes the request
and case KPIs the previous way (every request row of the window fetched and converted in
Python, ``bench/_naive_requests.py``) instead of reading the rollups kept at ingest, so the
mode is the recompute path with the maintained KPI values switched off."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any


def post_fork(_server: Any, _worker: Any) -> None:
    """Swap the KPI engine's request and case sources for the previous way's."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _naive_requests import naive_case_results, naive_request_results

    from dashboard.kpis import engine

    def previous_way(naive: Any) -> Any:
        def results(conn: Any, kpis: Any, window: Any, populations: Any, now: Any = None,
                    department: str | None = None, within: Any = None) -> Any:
            if department is not None or within is not None:
                raise NotImplementedError("the previous way had no department or "
                                          "municipality places")
            return naive(conn, kpis, window, populations, now)
        return results

    engine.request_results = previous_way(naive_request_results)  # type: ignore[assignment]
    engine.case_results = previous_way(naive_case_results)  # type: ignore[assignment]
