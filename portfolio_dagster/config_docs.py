"""docs/config.md, generated from the config model (every key, its type, constraints and default) and the
meaning written beside each key in config/pipeline.yaml (its trailing comment, or the comment lines just
above it). `python -m portfolio_dagster.config_docs > docs/config.md` regenerates it."""

from __future__ import annotations

import re

from pydantic import BaseModel

from portfolio_dagster.config import DEFAULT_CONFIG_PATH, PipelineConfig

_KEY = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z_][A-Za-z0-9_]*):(?P<rest>.*)$")


def yaml_meanings(text: str) -> dict[str, str]:
    """dotted key -> the comment that explains it in pipeline.yaml."""
    meanings: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    pending: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            pending.append(stripped.lstrip("#").strip())
            continue
        match = _KEY.match(line)
        if not match:
            if not stripped:
                pending = []
            continue
        indent = len(match["indent"])
        while stack and stack[-1][0] >= indent:
            stack.pop()
        name = ".".join([*(k for _, k in stack), match["key"]])
        stack.append((indent, match["key"]))
        trailing = match["rest"].split(" #", 1)[1].strip() if " #" in match["rest"] else ""
        meaning = " ".join(p for p in (*pending, trailing) if p)
        if meaning:
            meanings[name] = meaning
        pending = []
    return meanings


def _leaves(model: type[BaseModel], prefix: str = "") -> list[tuple[str, object]]:
    rows = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            rows.append((f"{prefix}{name}", None))
            rows += _leaves(annotation, f"{prefix}{name}.")
        else:
            rows.append((f"{prefix}{name}", field))
    return rows


def _type(field) -> str:
    text = str(field.annotation).replace("typing.", "").replace("datetime.date", "date")
    text = re.sub(r"<class '([^']+)'>", r"\1", text)
    # The models' sections live in config_models; config re-exports them: name them by the public module.
    text = text.replace("portfolio_dagster.config_models.", "portfolio_dagster.config.")
    bounds = [
        f"{k} {getattr(m, k)}" for m in field.metadata for k in ("ge", "gt", "le", "lt") if hasattr(m, k)
    ]
    return text + (f" ({', '.join(bounds)})" if bounds else "")


def config_markdown() -> str:
    """The table of every config key."""
    meanings = yaml_meanings(DEFAULT_CONFIG_PATH.read_text())
    defaults = PipelineConfig().model_dump(mode="json")
    lines = [
        "# Configuration keys",
        "",
        "Generated from `portfolio_dagster/config.py` (types, bounds, defaults) and the comments of",
        "`config/pipeline.yaml` (meanings): `python -m portfolio_dagster.config_docs > docs/config.md`.",
        "Every config file overlays `config/pipeline.yaml`: a key a file does not name has this default.",
        "",
        "| key | type | default | meaning |",
        "|---|---|---|---|",
    ]
    for key, field in _leaves(PipelineConfig):
        value = defaults
        for part in key.split("."):
            value = value[part]
        if field is None:
            lines.append(f"| **`{key}`** | section | | {_cell(meanings.get(key, ''))} |")
            continue
        lines.append(
            f"| `{key}` | {_cell(_type(field))} | `{_cell(value)}` | {_cell(meanings.get(key, ''))} |"
        )
    return "\n".join(lines) + "\n"


def undocumented() -> list[str]:
    """Keys (not sections) that pipeline.yaml explains nowhere."""
    meanings = yaml_meanings(DEFAULT_CONFIG_PATH.read_text())
    return [k for k, f in _leaves(PipelineConfig) if f is not None and k not in meanings]


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


if __name__ == "__main__":
    print(config_markdown(), end="")
