"""Real `mediakit serve` processes on free loopback ports, driven by the official OpenAI client."""

from __future__ import annotations

import pytest

from serverkit import DATA, start_server, stop_server


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """tiny.en (the default, so whisper-1 is tiny.en) and base; two workers; uploads up to 2 MB."""
    srv = start_server(
        tmp_path_factory.mktemp("serve"), "--model", "tiny.en", "--model", "base", "--workers", "2",
        "--max_upload_mb", "2",
    )  # fmt: skip
    yield srv
    stop_server(srv)


@pytest.fixture(scope="session")
def client(server):
    return server.client()


@pytest.fixture(scope="session")
def jfk() -> Path:
    return DATA / "jfk.flac"
