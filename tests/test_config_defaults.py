"""One source of defaults: config.py's Python defaults are config/pipeline.yaml's values, and every other
config file overlays pipeline.yaml (a key a file does not name has pipeline.yaml's value)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from portfolio_dagster.config import DEFAULT_CONFIG_PATH, ConfigError, PipelineConfig, load_config, overlay

CONFIG_DIR = Path(__file__).resolve().parents[1] / "config"


def _leaves(tree: dict, prefix: str = "") -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value and all(isinstance(k, str) for k in value) and key != "params":
            out |= _leaves(value, name + ".")
        else:
            out[name] = value
    return out


def test_python_defaults_are_pipeline_yaml():
    """Every key pipeline.yaml names has the Python default's value, and it names every key."""
    python = _leaves(PipelineConfig().model_dump(mode="json"))
    yaml_values = _leaves(load_config(DEFAULT_CONFIG_PATH).model_dump(mode="json"))
    differing = {k: (python[k], yaml_values[k]) for k in python if python[k] != yaml_values[k]}
    assert not differing, f"config.py default vs pipeline.yaml: {differing}"
    named = _leaves(yaml.safe_load(DEFAULT_CONFIG_PATH.read_text()))
    missing = sorted(k for k in python if k not in named and not any(k.startswith(n + ".") for n in named))
    assert not missing, f"keys pipeline.yaml does not name: {missing}"


@pytest.mark.parametrize("name", ["live.yaml", "full.yaml", "select.yaml"])
def test_every_config_file_overlays_pipeline_yaml(name):
    path = CONFIG_DIR / name
    own = _leaves(yaml.safe_load(path.read_text()))
    loaded = _leaves(load_config(path).model_dump(mode="json"))
    base = _leaves(load_config(DEFAULT_CONFIG_PATH).model_dump(mode="json"))
    for key, value in loaded.items():
        named = key in own or any(key.startswith(k + ".") for k in own)
        if not named:
            assert value == base[key], f"{name}: {key} is {value!r}, pipeline.yaml has {base[key]!r}"
    # The product these files trade is pipeline.yaml's (ml), unless a file says otherwise.
    assert load_config(path).strategy.mode == "ml"


def test_overlay_merges_sections_and_replaces_lists(tmp_path):
    assert overlay({"a": {"x": 1, "y": [1, 2]}, "b": 2}, {"a": {"y": [3]}}) == {
        "a": {"x": 1, "y": [3]},
        "b": 2,
    }
    path = tmp_path / "mine.yaml"
    path.write_text("strategy:\n  top_k: 3\ndata:\n  live:\n    overlap_days: 9\n")
    cfg = load_config(path)
    assert cfg.strategy.top_k == 3 and cfg.data.live.overlap_days == 9
    assert cfg.strategy.safe_assets == ("CASH", "BOND") and cfg.data.live.max_retries == 4


def test_a_config_that_is_not_a_mapping_is_one_line(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="not a mapping"):
        load_config(path)
