"""Resolve MODEL: a catalog name, a config.json, a model folder, or a Hub repo id.

A folder's model.safetensors.index.json gives the stored weight bytes exactly. A Hub repo's
config.json is fetched once with a timeout and cached; --offline uses the cache only.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

from ..core import paths
from ..core.errors import BadInput
from .models import ModelConfigError, ModelSpec, UnknownModel, find_in_catalog, nearest_names, parse_config

HUB = "https://huggingface.co"
REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "float8_e4m3fn": 1}
MAX_CONFIG_BYTES = 4 << 20


def _read_json(path: Path, what: str):
    try:
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise ModelConfigError(str(path), f"too large for a {what}")
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ModelConfigError(str(path), f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelConfigError(str(path), f"cannot be read ({exc})") from None


def from_folder(folder: Path) -> ModelSpec:
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise ModelConfigError(str(folder), "has no config.json")
    config = _read_json(config_path, "config.json")
    spec = parse_config(config, folder.name, str(config_path))
    index_path = folder / "model.safetensors.index.json"
    if index_path.is_file():
        index = _read_json(index_path, "safetensors index")
        total = index.get("metadata", {}).get("total_size") if isinstance(index, dict) else None
        if not isinstance(total, int) or total <= 0:
            raise ModelConfigError(str(index_path), "missing key 'metadata.total_size'")
        dtype = config.get("torch_dtype") or config.get("dtype")
        spec = replace(spec, stored_bytes=total, stored_dtype_bytes=DTYPE_BYTES.get(str(dtype)),
                       source=f"{config_path} + {index_path.name}")
    return spec


def fetch_hub_config(repo: str, cache_dir: Path, offline: bool, timeout: float, hub: str = HUB) -> dict:
    cached = cache_dir / repo.replace("/", "--") / "config.json"
    if cached.is_file():
        return _read_json(cached, "config.json")
    if offline:
        raise BadInput(f"{repo}: not in the cache ({cached}) and --offline was given; run once online, "
                       "or pass a local config.json")
    import requests  # only when the Hub is asked

    url = f"{hub}/{repo}/resolve/main/config.json"
    try:
        response = requests.get(url, timeout=timeout)
    except requests.RequestException as exc:
        raise BadInput(f"{repo}: the Hugging Face Hub cannot be reached ({type(exc).__name__}); "
                       "use --offline with a cached repo, or pass a local config.json") from None
    if response.status_code in (401, 403):
        raise BadInput(f"{repo}: the Hub refuses config.json (HTTP {response.status_code}: a gated or private repo); "
                       "download it with your token and pass the file")
    if response.status_code == 404:
        raise BadInput(f"{repo}: no such repo or no config.json on the Hub (HTTP 404)")
    if response.status_code != 200 or len(response.content) > MAX_CONFIG_BYTES:
        raise BadInput(f"{repo}: the Hub answered HTTP {response.status_code} for config.json")
    try:
        config = response.json()
    except ValueError:
        raise ModelConfigError(url, "not valid JSON") from None
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_suffix(".tmp")
    tmp.write_text(json.dumps(config))
    tmp.replace(cached)
    return config


def resolve_model(text: str, offline: bool = False, timeout: float = 5.0, cache_dir: Path | None = None) -> ModelSpec:
    spec = find_in_catalog(text)
    if spec is not None:
        return spec
    path = Path(text).expanduser()
    if path.is_dir():
        return from_folder(path)
    if path.is_file():
        return parse_config(_read_json(path, "config.json"), path.stem if path.name != "config.json" else path.parent.name,
                            str(path))
    if REPO_ID.match(text) and not text.endswith(".json"):
        config = fetch_hub_config(text, cache_dir or paths.cache_dir() / "hub", offline, timeout)
        return parse_config(config, text, f"{HUB}/{text}/blob/main/config.json")
    raise UnknownModel(text, nearest_names(text))
