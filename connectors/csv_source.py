"""``csv``: a legacy CSV or Excel (.xlsx) export, described by a YAML mapping
(``connectors.tabular``), read lazily row by row.

    - id: nyc-311-export
      kind: csv
      location: exports/311_Service_Requests.csv
      mapping: data/mappings/nyc311.yaml

Rows are read with the ``csv`` module (or openpyxl's read-only mode for .xlsx) and yielded
one at a time, so a file of millions of rows is never held in memory. Each raw row carries
its line number (``#row``) so quarantine reasons can point at it. Rows whose cursor is not
after the watermark are skipped; rows whose cursor does not parse go on to be quarantined.
A line longer than ``MAX_LINE_CHARS`` fails the file (SourceFormatError naming the line)
before it is read whole, so memory stays bounded whatever the file holds.
"""
from __future__ import annotations

import csv
import zipfile
from collections.abc import Iterator, Mapping
from functools import partial
from pathlib import Path
from typing import Any, ClassVar, TextIO

from pydantic import Field

from connectors.base import (
    CheckResult,
    Connector,
    ConnectorConfig,
    Mapped,
    MappedChunk,
    Plausible,
    SourceFormatError,
)
from connectors.base import Stream as BaseStream
from connectors.registry import register
from connectors.tabular import RowMapper, TabularMapping, load_mapping
from connectors.tabular_frames import ChunkMapper, row_dict
from connectors.tabular_values import read_watermark, text

EXCEL_SUFFIXES = (".xlsx", ".xlsm")
CHUNK_ROWS = 100_000  # rows mapped at once by the chunk mapper (observation exports)
MAX_LINE_CHARS = 16 * 1024 * 1024
"""Cap on one physical line of a CSV file, as long as the longest cell allowed (a cell
may span lines when quoted; each line is still bounded)."""
csv.field_size_limit(MAX_LINE_CHARS)  # long free-text cells in legacy exports


class CsvConfig(ConnectorConfig):
    """The export file and the mapping that describes it."""

    location: str = Field(description="path of the .csv (or .xlsx) export")
    mapping: str = Field(description="path of the YAML mapping file")


def _check_header(path: Path, header: list[str], needed: list[str]) -> None:
    missing = [c for c in needed if c not in header]
    if missing:
        shown = ", ".join(repr(h) for h in header[:30])
        raise SourceFormatError(f"{path}: no column {', '.join(map(repr, missing))} "
                                f"(the mapping needs it); the header has {shown}")
    repeated = sorted({c for c in needed if header.count(c) > 1})
    if repeated:
        raise SourceFormatError(f"{path}: columns {repeated} appear more than once in the header")


def bounded_lines(handle: TextIO, path: Path, limit: int) -> Iterator[str]:
    """The physical lines of a text file opened with ``newline=""`` (ends kept), each read
    with at most ``limit`` characters before a line break: SourceFormatError naming the
    line when one is longer, so no line is held whole past the cap."""
    read = partial(handle.readline, limit + 2)  # + 2: room for a CRLF after ``limit``
    for number, line in enumerate(iter(read, ""), start=1):
        if len(line.rstrip("\r\n")) > limit:
            raise SourceFormatError(f"{path}: line {number:,} is longer than "
                                    f"{limit:,} characters")
        yield line


def _csv_lines(path: Path, mapping: TabularMapping,
               needed: list[str]) -> Iterator[tuple[list[str], int, list[str]]]:
    """(header, line number, cells) of every non-blank data row of a CSV file."""
    try:
        handle = path.open(encoding=mapping.encoding, newline="")
    except FileNotFoundError:
        raise SourceFormatError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise SourceFormatError(f"{path}: is a directory, not a file") from None
    with handle:
        reader = csv.reader(bounded_lines(handle, path, MAX_LINE_CHARS),
                            delimiter=mapping.delimiter, quotechar=mapping.quotechar)
        try:
            for _ in range(mapping.skip_rows):
                next(reader, None)
            header = next(reader, None)
            if header is None:
                raise SourceFormatError(f"{path}: empty file, no header row")
            header = [h.strip() for h in header]
            _check_header(path, header, needed)
            for cells in reader:
                if "".join(cells).strip():  # skip blank lines (and lines of empty cells)
                    yield header, reader.line_num, cells
        except UnicodeDecodeError as error:
            raise SourceFormatError(
                f"{path}: near line {reader.line_num + 1}: not {mapping.encoding} text "
                f"({error.reason}); set 'encoding' in the mapping (e.g. cp1252, latin-1)"
            ) from None
        except csv.Error as error:
            raise SourceFormatError(f"{path}: line {reader.line_num}: {error}") from None


def csv_rows(path: Path, mapping: TabularMapping, needed: list[str]) -> Iterator[dict[str, Any]]:
    """The data rows of a CSV file as dicts (header -> cell), one at a time."""
    for header, line, cells in _csv_lines(path, mapping, needed):
        yield row_dict(header, line, cells)


def csv_chunks(path: Path, mapping: TabularMapping, needed: list[str],
               size: int) -> Iterator[tuple[list[str], list[int], list[list[str]]]]:
    """The data rows of a CSV file in chunks of ``size``: (header, line numbers, cells)."""
    lines: list[int] = []
    rows: list[list[str]] = []
    header: list[str] = []
    for header, line, cells in _csv_lines(path, mapping, needed):
        lines.append(line)
        rows.append(cells)
        if len(rows) >= size:
            yield header, lines, rows
            lines, rows = [], []
    if rows:
        yield header, lines, rows


def excel_rows(path: Path, mapping: TabularMapping, needed: list[str]) -> Iterator[dict[str, Any]]:
    """The data rows of an .xlsx sheet (the first, or ``sheet``), typed as Excel stores them."""
    try:
        import openpyxl
    except ImportError:  # pragma: no cover - openpyxl is a dependency
        raise SourceFormatError(f"{path}: reading Excel files needs openpyxl") from None
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except FileNotFoundError:
        raise SourceFormatError(f"{path}: no such file") from None
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as error:
        raise SourceFormatError(f"{path}: not a readable .xlsx workbook ({error})") from None
    try:
        if mapping.sheet is not None and mapping.sheet not in book.sheetnames:
            raise SourceFormatError(f"{path}: no sheet {mapping.sheet!r}; "
                                    f"sheets: {', '.join(book.sheetnames)}")
        sheet = book[mapping.sheet] if mapping.sheet else book.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        for _ in range(mapping.skip_rows):
            next(rows, None)
        first = next(rows, None)
        if first is None:
            raise SourceFormatError(f"{path}: empty sheet, no header row")
        header = [text(h) for h in first]
        _check_header(path, header, needed)
        for number, cells in enumerate(rows, start=mapping.skip_rows + 2):
            if all(text(c) == "" for c in cells):
                continue
            row: dict[str, Any] = {"#row": number}
            row.update((h, c) for h, c in zip(header, cells, strict=False) if h)
            yield row
    finally:
        book.close()


class CsvStream(BaseStream):
    """The rows of one export file, mapped as its mapping says."""

    name = "rows"
    primary_key = ("id",)
    cursor_field = None  # the mapping's cursor_column, else its time column
    entity = "Tabular"

    def __init__(self, config: CsvConfig, mapping: TabularMapping) -> None:
        self.config = config
        self.mapping = mapping
        self.mapper = RowMapper(mapping)

    def rows(self) -> Iterator[dict[str, Any]]:
        """Every data row of the file, unfiltered."""
        path = Path(self.config.location)
        needed = self.mapper.required_columns()
        suffix = path.suffix.lower()
        if suffix == ".xls":
            raise SourceFormatError(f"{path}: old .xls workbooks are not read; "
                                    "save it as .xlsx or .csv")
        if suffix in EXCEL_SUFFIXES:
            return excel_rows(path, self.mapping, needed)
        return csv_rows(path, self.mapping, needed)

    def read(self, watermark: str | None) -> Iterator[Mapping[str, Any]]:
        after = read_watermark(watermark, self.mapping.cursor_type)
        for row in self.rows():
            if after is not None:
                try:
                    cursor = self.mapper.cursor_value(row)
                except ValueError:
                    cursor = None  # map() quarantines it with the reason
                if cursor is not None and cursor <= after:  # type: ignore[operator]
                    continue
            yield row

    def read_chunks(self, watermark: str | None, plausible: Plausible | None = None
                    ) -> Iterator[MappedChunk] | None:
        """The file mapped in chunks (large observation exports), or None when this
        mapping or file is read row by row. Rows the chunk mapper leaves are in each
        chunk's ``leftovers`` for ``map``."""
        path = Path(self.config.location)
        excel = path.suffix.lower() in (*EXCEL_SUFFIXES, ".xls")
        if excel or not ChunkMapper.applies(self.mapper):
            return None
        chunker = ChunkMapper(self.mapper, plausible)
        after = read_watermark(watermark, "time")
        needed = self.mapper.required_columns()

        def chunks() -> Iterator[MappedChunk]:
            for header, lines, rows in csv_chunks(path, self.mapping, needed, CHUNK_ROWS):
                yield chunker.map_chunk(header, lines, rows, after)  # type: ignore[arg-type]

        return chunks()

    def map(self, record: Mapping[str, Any]) -> Mapped:
        return self.mapper.map(record)


@register
class CsvConnector(Connector):
    """A CSV or Excel export described by a mapping file."""

    kind: ClassVar[str] = "csv"
    config_model: ClassVar[type[ConnectorConfig]] = CsvConfig
    config: CsvConfig

    def check(self) -> CheckResult:
        """The mapping is valid and the file is there."""
        try:
            load_mapping(self.config.mapping)
        except SourceFormatError as error:
            return CheckResult(False, str(error))
        path = Path(self.config.location)
        if not path.is_file():
            return CheckResult(False, f"{path}: no such file")
        return CheckResult(True, f"{path}: file found")

    def streams(self) -> list[BaseStream]:
        """One stream of rows; loading the mapping here makes a bad one a format failure."""
        return [CsvStream(self.config, load_mapping(self.config.mapping))]
