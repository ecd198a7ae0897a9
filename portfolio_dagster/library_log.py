"""Where libraries' own output goes: providers' and libraries' log lines and Python warnings (a pandas
FutureWarning, yfinance's "Cookie/crumb fetch failed") are written to the data folder's log file, not
the user's terminal; `--debug` shows them on the terminal as well."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

LOG_FILE = "pmx.log"
# Third-party loggers whose lines are noise to a user of `pmx` (warnings arrive as py.warnings).
LIBRARY_LOGGERS = (
    "py.warnings",
    "yfinance",
    "peewee",
    "urllib3",
    "requests",
    "curl_cffi",
    "httpx",
    "lightgbm",
    "xgboost",
    "pytorch_lightning",
    "lightning",
    "lightning.pytorch",
    "hmmlearn",
    "numexpr",
)
_HANDLER_NAME = "pmx-library-log"


class _LazyFileHandler(logging.FileHandler):
    """Creates the folder and the file on the first record only (a refused command writes nothing)."""

    def _open(self):  # noqa: ANN202 - logging.FileHandler's hook
        Path(self.baseFilename).parent.mkdir(parents=True, exist_ok=True)
        return super()._open()


def route_library_output(log_dir: Path, debug: bool = False) -> Path:
    """Send warnings and the libraries' log records to `log_dir`/pmx.log (and stderr with `debug`);
    idempotent. Returns the log file's path."""
    path = log_dir / LOG_FILE
    logging.captureWarnings(False)  # installed afresh: a catch_warnings block may have restored the hook
    logging.captureWarnings(True)
    handlers: list[logging.Handler] = [_LazyFileHandler(path, encoding="utf-8", delay=True)]
    if debug:
        handlers.append(logging.StreamHandler(sys.stderr))
    for handler in handlers:
        handler.set_name(_HANDLER_NAME)
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    for name in LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        for old in [h for h in logger.handlers if h.get_name() == _HANDLER_NAME]:
            logger.removeHandler(old)
            old.close()
        for handler in handlers:
            logger.addHandler(handler)
        logger.setLevel(logging.DEBUG if debug else logging.INFO)
        logger.propagate = False  # never reaches the root logger's terminal handlers or lastResort
    return path


@contextlib.contextmanager
def stderr_to_log(log_dir: Path) -> Iterator[Path]:
    """File descriptor 2 writes to `log_dir`/pmx.log inside the block: processes started in it (the
    multiprocess executor's forkserver, and the step processes it forks later) keep the log as their
    stderr; this process's stderr is restored after the block. Yields the log file's path."""
    path = log_dir / LOG_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stderr.flush()
    saved = os.dup(2)
    with path.open("a", encoding="utf-8") as log:
        os.dup2(log.fileno(), 2)
    try:
        yield path
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
