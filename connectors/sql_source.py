"""``sql``: a table or a query in any database SQLAlchemy reaches, mapped like a CSV export
(the same YAML mapping, ``connectors.tabular``), read incrementally on a cursor column.

    - id: parking-db
      kind: sql
      location: postgresql+psycopg://reader:secret@db.city/parking   # a secret: never printed
      table: public.garage_counts          # or query: SELECT ... (without ORDER BY/LIMIT)
      mapping: data/mappings/garages.yaml  # cursor_column: updated_at
      page_size: 1000

Pages are ``WHERE cursor > :after ORDER BY cursor LIMIT :page_size`` built with ``select()``
and bound parameters (never string-formatted values). A page that ends inside a run of equal
cursor values is cut before that run, and the next page starts at it (``>=``), so ties on a
page boundary are neither lost nor read twice. The watermark (UTC ISO text) is bound in the
shape the column has (timestamptz, naive local timestamp, date, ISO text). Rows whose
cursor is NULL are read on full reads only. A ``query`` is SQL text: write a literal colon
followed by a word (``'urn:x'``) as ``\\:`` so it is not taken for a bound parameter.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

from pydantic import ConfigDict, Field, SecretStr, field_validator, model_validator
from sqlalchemy import (
    ColumnClause,
    ColumnElement,
    Connection,
    Engine,
    Select,
    column,
    create_engine,
    exc,
    make_url,
    select,
    table,
    text,
)
from sqlalchemy.pool import NullPool

from connectors.base import CheckResult, Connector, ConnectorConfig, Mapped, SourceFormatError
from connectors.base import Stream as BaseStream
from connectors.registry import register
from connectors.tabular import RowMapper, TabularMapping, load_mapping
from connectors.tabular_values import like_sample, read_watermark

NOTHING_NEWER = object()
TIMEOUT_BACKENDS = ("postgresql", "mysql", "mariadb")


def safe_url(url: str) -> str:
    """The database URL with its password masked (for messages and the sources table)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except exc.ArgumentError:
        return "<database URL>"


class DatabaseUrl(SecretStr):
    """A database URL kept secret: it prints with its password masked, and its JSON dump
    (the stored source configuration) is masked whole."""

    def _display(self) -> str:
        return safe_url(self.get_secret_value())


class SqlConfig(ConnectorConfig):
    """The database (a secret URL), what to read from it, and the mapping."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)
    location: DatabaseUrl = Field(description="SQLAlchemy database URL")
    mapping: str = Field(description="path of the YAML mapping file")
    table: str | None = Field(default=None, description="table, or schema.table")
    query: str | None = Field(default=None, description="a SELECT, without ORDER BY/LIMIT")
    page_size: int = Field(default=1000, ge=1, le=100_000)
    timeout_seconds: int = Field(default=20, ge=1)

    @field_validator("location")
    @classmethod
    def _url(cls, value: DatabaseUrl) -> DatabaseUrl:
        try:
            make_url(value.get_secret_value())
        except exc.ArgumentError:
            raise ValueError("not a database URL (dialect+driver://user:password@host/db)"
                             ) from None
        return value

    @field_validator("query")
    @classmethod
    def _query(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().rstrip(";").strip()
        if not value:
            raise ValueError("query is empty")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> SqlConfig:
        if (self.table is None) == (self.query is None):
            raise ValueError("give exactly one of 'table' and 'query'")
        return self


def _first_line(error: BaseException, secret: str | None) -> str:
    message = str(getattr(error, "orig", None) or error).strip().splitlines()
    line = message[0] if message else type(error).__name__
    return line.replace(secret, "***") if secret else line


def _end(conn: Connection) -> None:
    """End the read transaction (a lost connection has nothing left to end)."""
    try:
        conn.rollback()
    except exc.SQLAlchemyError:
        pass


class SqlStream(BaseStream):
    """The rows of one table or query, in cursor order, page by page."""

    name = "rows"
    primary_key = ("id",)
    cursor_field = None  # the mapping's cursor_column, else its time column
    entity = "Tabular"

    def __init__(self, config: SqlConfig, mapping: TabularMapping) -> None:
        self.config = config
        self.mapping = mapping
        self.mapper = RowMapper(mapping, cursor_fallback=False)  # the WHERE is on the column
        self.cursor = self.mapper.cursor_column
        self.url = make_url(config.location.get_secret_value())
        self.what = f"table {config.table}" if config.table else "query"
        self.origin = f"{safe_url(config.location.get_secret_value())} ({self.what})"
        columns: list[ColumnClause[Any]] = [column(name) for name in self.mapper.required_columns()]
        if config.table:
            schema, _, name = config.table.rpartition(".")
            self.source: Any = table(name, *columns, schema=schema or None)
        else:
            self.source = text(config.query or "").columns(*columns).subquery("citylens_source")

    # --- database access ------------------------------------------------------------

    def engine(self) -> Engine:
        """A pool-less engine for one read; SourceFormatError when the URL cannot work."""
        database = self.url.database
        if (self.url.get_backend_name() == "sqlite" and database not in (None, "", ":memory:")
                and not database.startswith("file:") and not Path(database).is_file()):
            raise SourceFormatError(f"{self.origin}: no such SQLite file {database!r}")
        args: dict[str, Any] = {}
        if self.url.get_backend_name() in TIMEOUT_BACKENDS:
            args["connect_timeout"] = self.config.timeout_seconds
        try:
            return create_engine(self.url, poolclass=NullPool, connect_args=args)
        except (exc.ArgumentError, exc.NoSuchModuleError, ImportError) as error:
            raise SourceFormatError(f"{self.origin}: {_first_line(error, self.url.password)}"
                                    ) from None

    def connect(self, engine: Engine) -> Connection:
        try:
            return engine.connect()
        except exc.DBAPIError as error:
            raise ConnectionError(f"{self.origin}: cannot connect: "
                                  f"{_first_line(error, self.url.password)}") from None

    def _failure(self, error: exc.SQLAlchemyError) -> Exception:
        """A database error as 'source unavailable' (ConnectionError) or 'cannot be read as
        configured' (SourceFormatError)."""
        line = _first_line(error, self.url.password)
        if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
            return ConnectionError(f"{self.origin}: connection lost: {line}")
        if isinstance(error, exc.OperationalError) and not any(
            word in line.lower() for word in ("no such ", "syntax error", "does not exist")
        ):
            return ConnectionError(f"{self.origin}: {line}")
        return SourceFormatError(f"{self.origin}: {line}")

    def fetch(self, conn: Connection, stmt: Select[Any]) -> list[dict[str, Any]]:
        """One page of rows as dicts; the read transaction ends with the page."""
        try:
            rows = [dict(row) for row in conn.execute(stmt).mappings()]
        except exc.SQLAlchemyError as error:
            raise self._failure(error) from None
        finally:
            _end(conn)
        return rows

    def _stream(self, conn: Connection, stmt: Select[Any]) -> Iterator[dict[str, Any]]:
        """Rows of an unpaged statement, fetched ``page_size`` at a time."""
        size = self.config.page_size
        try:
            result = conn.execute(stmt.execution_options(yield_per=size))
            for part in result.mappings().partitions(size):
                yield from (dict(row) for row in part)
        except exc.SQLAlchemyError as error:
            raise self._failure(error) from None
        finally:
            _end(conn)

    # --- reading --------------------------------------------------------------------

    def _bound(self, conn: Connection, key: ColumnElement[Any], after: Any) -> Any:
        """The watermark as a value of the cursor column's own kind."""
        if isinstance(after, int):
            return after
        rows = self.fetch(conn, select(key.label("c")).where(key.is_not(None)).limit(1))
        if not rows:
            return NOTHING_NEWER
        try:
            return like_sample(after, rows[0]["c"], self.mapper.zone)
        except ValueError as error:
            raise SourceFormatError(f"{self.origin}: cursor column {self.cursor!r}: {error}"
                                    ) from None

    def _pages(self, conn: Connection, watermark: str | None) -> Iterator[dict[str, Any]]:
        src, size = self.source, self.config.page_size
        if self.cursor is None:
            yield from self._stream(conn, select(src))  # no cursor: every run reads all
            return
        key = src.c[self.cursor]
        after = read_watermark(watermark, self.mapping.cursor_type)
        bound: Any = None
        inclusive = False
        if after is None:
            yield from self._stream(conn, select(src).where(key.is_(None)))
        else:
            bound = self._bound(conn, key, after)
            if bound is NOTHING_NEWER:
                return
        while True:
            stmt = select(src).order_by(key).limit(size)
            if bound is None:
                stmt = stmt.where(key.is_not(None))
            else:
                stmt = stmt.where(key >= bound if inclusive else key > bound)
            rows = self.fetch(conn, stmt)
            if len(rows) < size:
                yield from rows
                return
            last = rows[-1][self.cursor]
            head = [row for row in rows if row[self.cursor] != last]
            if head:  # hold back the run of ``last``: the next page starts with all of it
                yield from head
                bound, inclusive = last, True
            else:  # a whole page of one cursor value: read that value's rows whole
                yield from self._stream(conn, select(src).where(key == last))
                bound, inclusive = last, False

    def read(self, watermark: str | None) -> Iterator[Mapping[str, Any]]:
        engine = self.engine()
        try:
            with self.connect(engine) as conn:
                yield from self._pages(conn, watermark)
        finally:
            engine.dispose()

    def map(self, record: Mapping[str, Any]) -> Mapped:
        return self.mapper.map(record)


@register
class SqlConnector(Connector):
    """A table or query of a database, mapped by a mapping file, read on a cursor column."""

    kind: ClassVar[str] = "sql"
    config_model: ClassVar[type[ConnectorConfig]] = SqlConfig
    config: SqlConfig

    def display_location(self) -> str:
        """Where the rows come from, with the password masked (for feed runs and logs)."""
        where = f"table {self.config.table}" if self.config.table else "query"
        return f"{safe_url(self.config.location.get_secret_value())} ({where})"

    def check(self) -> CheckResult:
        """The mapping is valid, the database answers and the table or query reads."""
        try:
            stream = SqlStream(self.config, load_mapping(self.config.mapping))
            engine = stream.engine()
            try:
                with stream.connect(engine) as conn:
                    stream.fetch(conn, select(stream.source).limit(1))
            finally:
                engine.dispose()
        except (SourceFormatError, ConnectionError) as error:
            return CheckResult(False, str(error))
        return CheckResult(True, f"{stream.origin}: readable")

    def streams(self) -> list[BaseStream]:
        """One stream of rows; loading the mapping here makes a bad one a format failure."""
        return [SqlStream(self.config, load_mapping(self.config.mapping))]
