"""PMX_POSTGRES_URL: the Postgres server of the Dagster instance, as users write it (postgresql://...).

dagster-postgres under SQLAlchemy 2.1 needs the psycopg2 driver (2.1's default for postgresql:// is
psycopg 3, on which Dagster's queries fail), so the product picks it: `dagster_url`. Errors name the
host, never the password.
"""

from __future__ import annotations

from sqlalchemy import create_engine, exc
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

from portfolio_dagster.instance import POSTGRES_URL_ENV, InstanceError

CONNECT_TIMEOUT_S = 5
_EXPECTED = "expected postgresql://user:password@host:port/database"


def parse(url: str) -> URL:
    """The URL, or InstanceError (one line) when it is not a Postgres URL."""
    try:
        parsed = make_url(url)
    except (exc.ArgumentError, ValueError):
        raise InstanceError(f"{POSTGRES_URL_ENV} is not a URL: {_EXPECTED}") from None
    if parsed.get_backend_name() not in ("postgresql", "postgres"):
        raise InstanceError(f"{POSTGRES_URL_ENV} names {parsed.drivername}://, not Postgres: {_EXPECTED}")
    return parsed


def dagster_url(url: str) -> str:
    """The same server, database and credentials with the psycopg2 driver (what Dagster's storage needs)."""
    return parse(url).set(drivername="postgresql+psycopg2").render_as_string(hide_password=False)


def server_name(url: str) -> str:
    """host:port (or the socket folder) of the URL: what an error may show."""
    parsed = parse(url)
    host = parsed.host or parsed.query.get("host") or "localhost"
    return f"{host}:{parsed.port or 5432}" if parsed.host else str(host)


def check_reachable(url: str) -> None:
    """Connect once (5 s timeout); InstanceError names the server and the cause, never the password."""
    parsed = parse(url)
    engine = create_engine(
        dagster_url(url), poolclass=NullPool, connect_args={"connect_timeout": CONNECT_TIMEOUT_S}
    )
    try:
        with engine.connect():
            pass
    except exc.DBAPIError as error:
        lines = [line.strip() for line in str(error.orig).splitlines() if line.strip()]
        reason = lines[0] if lines else type(error.orig).__name__
        if parsed.password:
            reason = reason.replace(parsed.password, "***")
        raise InstanceError(
            f"cannot use the Postgres server at {server_name(url)} ({POSTGRES_URL_ENV}): {reason}"
        ) from None
    finally:
        engine.dispose()
