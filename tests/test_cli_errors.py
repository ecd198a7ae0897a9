"""Bad input: one clear line on stderr, a non-zero exit, no traceback, and nothing written."""

from __future__ import annotations

import pytest

from portfolio_dagster.cli import main


def _run(capsys, *args: str) -> tuple[int, str]:
    code = main(["run", *args])
    err = capsys.readouterr().err.strip()
    return code, err


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("date,ticker\n2001-01-02,AAA\n", "row 1, column 'close': required column missing"),
        ("date,ticker,close\n2001-01-02,AAA,10\n2001-13-02,AAA,11\n", "row 3, column 'date'"),
        (
            "date,ticker,close\n2001-01-02,AAA,10\n2001-01-03,AAA,abc\n",
            "row 3, column 'close': 'abc' is not a number",
        ),
        ("", "row 1: empty file"),
    ],
)
def test_structurally_broken_csv_is_one_line_naming_file_row_and_column(
    pmx_home, tmp_path, capsys, content, expected
):
    csv = tmp_path / "bad.csv"
    csv.write_text(content)
    code, err = _run(capsys, "--source", "csv", "--csv", str(csv))
    assert code == 1
    assert len(err.splitlines()) == 1
    assert str(csv) in err and expected in err
    assert not (pmx_home / "warehouse.duckdb").exists()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--source", "csv", "--csv", "/nonexistent/prices.csv"], "file not found"),
        (["--tickers", "AAPL,NOPE"], "unknown ticker(s) NOPE"),
        (["--start", "2010-01-01", "--end", "2005-01-01"], "is before data.start"),
        (["--start", "2030-01-01", "--end", "2031-01-01"], "in the future"),
        (["--start", "2024-01-01", "--end", "2024-06-01"], "empty date range"),
        (["--config", "/nonexistent.yaml"], "config file not found"),
    ],
)
def test_user_mistakes_are_one_clear_line(pmx_home, capsys, args, expected):
    code, err = _run(capsys, *args)
    assert code == 1
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert expected in err


def test_bad_date_flag_is_a_usage_error(pmx_home, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["run", "--start", "yesterday"])
    assert exc.value.code == 2
    assert "'yesterday' is not a date" in capsys.readouterr().err


def test_report_before_any_run_says_so(pmx_home, capsys):
    assert main(["report"]) == 1
    assert "run `pmx run` first" in capsys.readouterr().err
