"""The scale-out configuration (deploy/k8s) loads: instance YAML valid against Dagster's and
dagster-k8s's schemas, the definitions load with the Kubernetes step executor, and the warehouse
location may be MotherDuck. No cluster, Postgres or MotherDuck is reachable here: nothing is launched."""

import os
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import yaml
from dagster._config import validate_config
from dagster._core.instance.config import dagster_instance_config

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "deploy" / "k8s"


def test_k8s_instance_yaml_is_valid(tmp_path):
    from dagster_k8s import K8sRunLauncher
    from dagster_postgres import PostgresEventLogStorage

    shutil.copy(K8S / "dagster.yaml", tmp_path / "dagster.yaml")
    config, _ = dagster_instance_config(str(tmp_path))
    assert config["run_launcher"]["class"] == "K8sRunLauncher"
    assert config["concurrency"]["pools"]["default_limit"] == 1
    raw = yaml.safe_load((K8S / "dagster.yaml").read_text())
    launcher = validate_config(K8sRunLauncher.config_type(), raw["run_launcher"]["config"])
    assert launcher.success, launcher.errors
    storage = validate_config(PostgresEventLogStorage.config_type(), raw["storage"]["postgres"])
    assert storage.success, storage.errors


def test_k8s_definitions_load_with_the_k8s_executor_and_a_motherduck_warehouse(monkeypatch, tmp_path):
    monkeypatch.setenv("PMX_WAREHOUSE", "md:portfolio_maximizer")
    monkeypatch.setenv("PMX_HOME", str(tmp_path))
    defs = runpy.run_path(str(K8S / "definitions.py"))["defs"]
    dg.Definitions.validate_loadable(defs)
    job = defs.resolve_job_def("daily_job")
    assert job.executor_def.name == "pmx_k8s_job_executor"
    assert defs.resolve_implicit_global_asset_job_def().executor_def.name == "pmx_k8s_job_executor"
    assert defs.resources["warehouse"].path == "md:portfolio_maximizer"
    assert {s.name for s in defs.schedules} == {"daily_after_close", "weekly_retrain"}
    assert {s.name for s in defs.sensors} == {
        "forecast_decay",
        "alert_on_run_failure",
        "feature_drift_retrain",
    }


def test_dagster_cli_lists_the_k8s_definitions(tmp_path):
    env = dict(
        os.environ, PMX_HOME=str(tmp_path), PMX_WAREHOUSE="md:portfolio_maximizer", DAGSTER_HOME=str(tmp_path)
    )
    out = subprocess.run(
        [sys.executable, "-m", "dagster", "job", "list", "-f", str(K8S / "definitions.py")],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "daily_job" in out.stdout and "retrain_job" in out.stdout
