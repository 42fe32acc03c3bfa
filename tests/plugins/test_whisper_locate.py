"""Model names: caches searched, checked downloads from a local server, errors, the plugin's hooks and CLI."""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import socket
import threading
from pathlib import Path

import pytest
import torch

from mediakit.config import ModelOptions
from mediakit.errors import ModelNotFoundError, StageError
from mediakit_whisper import locate, names, plugin
from mediakit_whisper.loader import NamedModelFactory, load
from mediakit_whisper.model import ModelDims, Whisper

DIMS = ModelDims(8, 6, 16, 2, 1, 40, 10, 16, 2, 2)


@pytest.fixture(autouse=True)
def isolated_caches(tmp_path, monkeypatch):
    """Point every cache (home, XDG, Hugging Face) into tmp_path; the env var the CLI reads too."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.delenv("HF_HOME", raising=False)
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("MEDIAKIT_MODEL_DIR", raising=False)
    return home


def tiny_checkpoint(path: Path) -> bytes:
    torch.manual_seed(0)
    torch.save({"dims": {"n_audio_head": 2, "n_text_head": 2}, "model_state_dict": Whisper(DIMS).state_dict()}, path)
    return path.read_bytes()


@pytest.fixture
def server(tmp_path):
    """A local HTTP server over tmp_path/served; yields its base URL."""
    root = tmp_path / "served"
    root.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):  # keep pytest output clean
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", root
    httpd.shutdown()
    httpd.server_close()


def serve_as_official(monkeypatch, server, content: bytes, sha256: str | None = None) -> None:
    """Serve ``content`` as the official 'tiny' checkpoint, with ``sha256`` (default: its real digest)."""
    url, root = server
    digest = sha256 or hashlib.sha256(content).hexdigest()
    (root / digest).mkdir()
    (root / digest / "tiny.pt").write_bytes(content)
    monkeypatch.setattr(names, "DOWNLOAD_BASE_URL", url)
    official = names.OFFICIAL["tiny"]
    patched = names.OfficialModel("tiny", "tiny.pt", digest, True, 1000, official.heads_mask)
    monkeypatch.setitem(names.OFFICIAL, "tiny", patched)


def test_download_checks_the_sha256_and_saves_atomically(tmp_path, monkeypatch, server):
    content = tiny_checkpoint(tmp_path / "source.pt")
    serve_as_official(monkeypatch, server, content)
    cache = tmp_path / "models"
    path = locate.locate("tiny", str(cache), download=True)
    assert path == cache / "tiny.pt" and path.read_bytes() == content
    assert [p.name for p in cache.iterdir()] == ["tiny.pt"]  # no temporary file left
    # the registered factory finds it in the cache the next time, without the server
    monkeypatch.setattr(names, "DOWNLOAD_BASE_URL", "http://127.0.0.1:9")
    runtime = NamedModelFactory("tiny")(ModelOptions(model_dir=str(cache), device="cpu"))
    assert runtime.name == "tiny" and runtime.dims == DIMS and runtime.source == str(cache / "tiny.pt")


def test_checksum_mismatch_is_an_error_and_leaves_no_file(tmp_path, monkeypatch, server):
    content = tiny_checkpoint(tmp_path / "source.pt")
    serve_as_official(monkeypatch, server, content, sha256="0" * 64)
    cache = tmp_path / "models"
    with pytest.raises(StageError, match=r"tiny.pt .* is damaged: sha256 [0-9a-f]{64} instead of 0{64}"):
        locate.locate("tiny", str(cache), download=True)
    assert list(cache.iterdir()) == []


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_offline_error_is_one_line_with_the_available_models_and_how_to_add_one(tmp_path, monkeypatch):
    monkeypatch.setattr(names, "DOWNLOAD_BASE_URL", f"http://127.0.0.1:{_closed_port()}")
    cache = tmp_path / "models"
    with pytest.raises(StageError) as err:
        NamedModelFactory("small")(ModelOptions(model_dir=str(cache)))
    message = str(err.value)
    assert "\n" not in message and "'small' is not on this machine (download failed" in message
    installed = [n for n in ("tiny.en", "base") if locate.packaged_weights(n)]
    assert f"available offline: {', '.join(installed) or 'none'};" in message
    assert f"put small.pt (or a CTranslate2 / Hugging Face folder named small) in {cache}" in message
    assert "--model PATH" in message
    assert not cache.exists() or list(cache.iterdir()) == []
    with pytest.raises(StageError, match="downloads are off"):
        NamedModelFactory("small")(ModelOptions(model_dir=str(cache), download=False))


def test_unknown_name_lists_the_official_names():
    with pytest.raises(ModelNotFoundError) as err:
        load("tiny-v9")
    assert "unknown model 'tiny-v9'; available:" in str(err.value)
    assert "large-v3-turbo" in str(err.value) and "turbo" in str(err.value) and "base" in str(err.value)


def test_caches_are_searched_in_order(tmp_path, isolated_caches):
    content = tiny_checkpoint(tmp_path / "source.pt")
    mine = tmp_path / "models"
    assert locate.cached_weights("small", str(mine)) is None
    # Hugging Face hub cache: the snapshot refs/main points at
    repo = isolated_caches / ".cache" / "huggingface" / "hub" / "models--openai--whisper-small"
    snapshot = repo / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    (snapshot / "model.safetensors").write_bytes(b"")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("abc123")
    assert locate.cached_weights("small", str(mine)) == snapshot
    # openai-whisper's cache wins over Hugging Face
    openai = isolated_caches / ".cache" / "whisper"
    openai.mkdir(parents=True)
    (openai / "small.pt").write_bytes(content)
    assert locate.cached_weights("small", str(mine)) == openai / "small.pt"
    # mediakit's own cache wins over both; aliases resolve to the official file name
    mine.mkdir()
    (mine / "small.pt").write_bytes(content)
    assert locate.cached_weights("small", str(mine)) == mine / "small.pt"
    (mine / "large-v3-turbo").mkdir()
    (mine / "large-v3-turbo" / "model.bin").write_bytes(b"")
    assert locate.cached_weights("turbo", str(mine)) == mine / "large-v3-turbo"


def test_register_hook_names_every_official_model_with_lazy_factories():
    registered = {}
    plugin.mediakit_register_models(lambda name, factory, **extra: registered.setdefault(name, factory))
    assert list(registered) == list(names.ALL_NAMES)
    expected = {"tiny", "tiny.en", "base", "base.en", "small", "small.en", "medium", "medium.en", "large-v1",
                "large-v2", "large-v3", "large-v3-turbo", "large", "turbo"}  # fmt: skip
    assert set(registered) == expected
    assert all(callable(f) for f in registered.values())


def test_weights_hook_offers_the_installed_packages():
    base = plugin.mediakit_model_weights("base")
    if base is None:
        pytest.skip("the base weight package is not installed")
    assert (Path(base) / "model.bin.part1").is_file()
    assert len(locate.model_bin_parts(Path(base))) == 2
    assert plugin.mediakit_model_weights("small") is None
    assert plugin.mediakit_model_weights("tiny.en") is not None


def test_models_list_cli_reports_availability_location_and_languages(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from mediakit.cli import app

    mine = tmp_path / "models"
    mine.mkdir()
    tiny_checkpoint(mine / "small.en.pt")
    monkeypatch.setenv("MEDIAKIT_MODEL_DIR", str(mine))
    result = CliRunner().invoke(app, ["models", "list", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.output)}
    assert rows["small.en"]["available"] and rows["small.en"]["location"] == str(mine / "small.en.pt")
    assert rows["small.en"]["multilingual"] is False and rows["small.en"]["plugin"] == "whisper"
    assert rows["medium"]["available"] is False and rows["medium"]["size_bytes"] > 10**9
    table = CliRunner().invoke(app, ["models", "list"])
    assert table.exit_code == 0
    line = next(line for line in table.output.splitlines() if line.startswith("small.en "))
    assert "yes" in line and "English-only" in line and str(mine / "small.en.pt") in line


@pytest.mark.weights
def test_the_host_loads_names_and_paths_through_the_plugin_hooks(tmp_path):
    from mediakit.errors import StageNotFoundError
    from mediakit.pipeline import load_model
    from mediakit.testing import make_plugin_manager

    if locate.packaged_weights("tiny.en") is None:
        pytest.skip("the tiny.en weight package is not installed")
    pm = make_plugin_manager()
    by_name = load_model(pm, ModelOptions(name="tiny.en", device="cpu", model_dir=str(tmp_path)))
    assert by_name.name == "tiny.en" and by_name.source == str(locate.packaged_weights("tiny.en"))
    assert by_name.feature_spec.n_mels == 80 and not by_name.is_multilingual
    by_path = load_model(pm, ModelOptions(name=by_name.source, device="cpu"))
    assert by_path.format == "ct2" and by_path.alignment_heads == by_name.alignment_heads
    with pytest.raises(StageNotFoundError, match="unknown model 'tiny-v9'; available: .*tiny.en"):
        load_model(pm, ModelOptions(name="tiny-v9"))
