"""What went wrong with the store, in one line an operator can act on: an unreachable
server, a database that does not exist, a read-only or full disk, a file that cannot be
opened. Used by the command line and by the app's start instead of a traceback."""
from __future__ import annotations

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

# (words in the driver's message, what it means and what to do); the first that matches
KNOWN_PROBLEMS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("database or disk is full", "no space left on device", "could not extend file",
      "disk full"),
     "the disk holding the store is full: free some space and run again (the transaction "
     "that failed was rolled back; nothing half-written was kept)"),
    (("readonly database", "read-only file system", "read-only transaction"),
     "the store is read-only: give the user running CityLens write access to it (and to "
     "its folder), or point CITYLENS_DATABASE_URL at a writable store"),
    (("unable to open database file", "no such file or directory", "not a directory"),
     "the store file cannot be opened: check that its folder exists and is writable, or "
     "set CITYLENS_VAR_DIR / CITYLENS_DATABASE_URL"),
    (("file is not a database", "database disk image is malformed"),
     "the store file is damaged or not a CityLens store: restore it from a backup, or "
     "point CITYLENS_DATABASE_URL at another file"),
    (("does not exist",),
     "the database does not exist: create it (createdb NAME) or fix CITYLENS_DATABASE_URL"),
    (("password authentication failed", "authentication failed", "no pg_hba.conf entry",
      "role "),
     "the database refused the credentials: check the user and password in "
     "CITYLENS_DATABASE_URL"),
    (("connection refused", "could not connect", "timeout expired", "could not translate",
      "name or service not known", "server closed the connection", "connection timed out"),
     "the database server cannot be reached: is it running, and are the host and port in "
     "CITYLENS_DATABASE_URL right?"),
)


def _cause_text(error: BaseException) -> str:
    cause: BaseException = error
    if isinstance(error, DBAPIError) and error.orig is not None:
        cause = error.orig
    return " ".join(str(cause).split())


def where(url: str) -> str:
    """The store's URL with any password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(an unreadable CITYLENS_DATABASE_URL)"


def describe(error: BaseException) -> str:
    """The problem in one line: what it means and what to do when it is a known one, with
    the driver's own words."""
    text = _cause_text(error)
    lowered = text.lower()
    for words, meaning in KNOWN_PROBLEMS:
        if any(word in lowered for word in words):
            return f"{meaning} ({text[:160]})"
    kind = "database error" if isinstance(error, SQLAlchemyError) else type(error).__name__
    return f"{kind}: {text[:240]}"


def store_problem(error: BaseException, url: str) -> str:
    """One line naming the store, the problem and what to do (at most ~450 characters)."""
    return f"store {where(url)}: {describe(error)}"
