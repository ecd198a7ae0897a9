"""The project's definitions with every step in its own Kubernetes pod (dagster-k8s).

Load with `dagster-webserver -f deploy/k8s/definitions.py` (or as the code location of the
Dagster Helm chart's user deployment). Assets, checks, jobs, schedules and sensors are exactly
those of portfolio_dagster.definitions; only the executor differs. The warehouse path comes from
PMX_WAREHOUSE, e.g. `md:portfolio_maximizer` for MotherDuck (token in the motherduck_token env).
"""

from dagster_k8s import k8s_job_executor

from portfolio_dagster import paths
from portfolio_dagster.definitions import build_definitions

# Step pods: same image as the run; the pool limit still serializes warehouse writers.
STEP_EXECUTOR = k8s_job_executor.configured(
    {"max_concurrent": 4, "env_secrets": ["portfolio-maximizer-warehouse"]}, name="pmx_k8s_job_executor"
)

defs = build_definitions(paths.config_path(), paths.warehouse_path(), paths.home(), executor=STEP_EXECUTOR)
