"""``citylens consultations ...``: add consultations from YAML, list them, read results."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from dashboard.auth import ADMIN
from dashboard.auth.users import Principal
from dashboard.cli_users import _engine, _fail
from dashboard.settings import get_settings

consultations_app = typer.Typer(no_args_is_help=True,
                                help="Consultations residents answer (/participate, the "
                                     "kiosk): add them from YAML, list them, read results.")
CLI_STAFF = Principal("cli", ADMIN)  # who the audit log says made the changes


@consultations_app.command("add")
def add(file: Annotated[Path, typer.Argument(
        help="A YAML file of one or more consultations (see "
             "data/consultations.example.yaml).")]) -> None:
    """Create or update the consultations of FILE (as an administrator); every one is
    checked before any is saved."""
    from dashboard.consultation_text import surveys_from_yaml
    from dashboard.consultations import check_survey, save_survey
    from dashboard.queries import district_options
    from dashboard.queries.kiosk import source_language

    _engine()  # the store, at the newest schema
    settings = get_settings()
    source = source_language(settings)
    try:
        surveys = surveys_from_yaml(file.read_text(encoding="utf-8"))
        districts = {d["id"] for d in district_options(settings)}
        for item in surveys:
            try:
                check_survey(item, source, districts)
            except ValueError as error:
                raise ValueError(f"{item.get('id') or 'a consultation'}: {error}") from None
        saved = [save_survey(settings, CLI_STAFF, item, source) for item in surveys]
    except (OSError, ValueError, PermissionError) as error:
        _fail(" ".join(str(error).split()))
    typer.echo(f"added {len(saved)} consultation{'s' if len(saved) != 1 else ''}: "
               + ", ".join(saved))


@consultations_app.command("list")
def list_(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every consultation: state, place, dates and answers, newest closing first."""
    from dashboard.queries.consultations import surveys_for

    _engine()
    found = surveys_for(get_settings())
    if as_json:
        sys.stdout.write(json.dumps(found, ensure_ascii=False) + "\n")
        return
    for item in found:
        place = item["district_name"] or item["district_id"] or "whole city"
        typer.echo(f"{item['id']:32} {item['state']:9} {item['answers']:6} answers  "
                   f"{item['opens_at'][:16]} – {item['closes_at'][:16]} UTC  "
                   f"{item['department'] or '-'} · {place}")
    if not found:
        typer.echo("no consultations yet: add some with `citylens consultations add FILE`")


def result_lines(results: dict[str, Any], lang: str) -> list[str]:
    """A consultation's results as text: each question, its counts and shares."""
    lines = [f"{results['survey']['id']}: {results['answers']} answers "
             f"({results['survey']['state']})"]
    for item in results["questions"]:
        question = item["question"]
        lines.append(f"{question['id']} ({question['kind']}): "
                     f"{question['text'].get(lang) or next(iter(question['text'].values()))}"
                     f" — {item['answered']} answered")
        labels = {o["key"]: o["label"] for o in question.get("options") or []}
        for key, count in (item.get("counts") or {}).items():
            label = labels.get(key, {key: key})
            share = count / item["answered"] if item["answered"] else 0.0
            lines.append(f"  {label.get(lang) or next(iter(label.values()))}: {count} "
                         f"({share:.0%})")
        if item.get("mean") is not None:
            lines.append(f"  mean {item['mean']}")
        if question["kind"] == "text":
            lines.append(f"  {len(item.get('texts') or [])} approved, "
                         f"{item.get('awaiting', 0)} awaiting moderation")
    return lines


@consultations_app.command("results")
def results(
    survey_id: Annotated[str, typer.Argument(metavar="ID", help="The consultation's id.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
    lang: Annotated[str, typer.Option(help="The language of the questions shown.")] = "en",
) -> None:
    """A consultation's results as staff see them (also while it is open)."""
    from dashboard.queries.consultations import survey_results

    _engine()
    found = survey_results(get_settings(), survey_id, staff=True)
    if found is None:
        _fail(f"no consultation {survey_id!r}")
    if as_json:
        sys.stdout.write(json.dumps(found, ensure_ascii=False) + "\n")
        return
    for line in result_lines(found, lang):
        typer.echo(line)
