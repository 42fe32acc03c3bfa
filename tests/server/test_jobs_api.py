"""The jobs API (/mediakit/v1/jobs) and the web page on a real `mediakit serve`: submit, poll, results, errors."""

from __future__ import annotations

import time

from serverkit import httpx

import re

JFK_REFERENCE = "and so my fellow americans ask not what your country can do for you ask what you can do for your country"


def normalize(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s']", " ", text.lower()).replace("'", "").split())

PREFIX = "/mediakit/v1"


def _headers(server) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.key}"}


def _wait(server, url: str, limit: float = 120.0) -> dict:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        job = httpx.get(server.url + url, headers=_headers(server), timeout=10).json()
        if job["status"] in ("done", "failed", "cancelled"):
            return job
        time.sleep(0.3)
    raise AssertionError(f"job {url} not finished within {limit} s: {job}")


def test_a_submitted_upload_finishes_with_results_in_every_format(server, jfk):
    with open(jfk, "rb") as media:
        answer = httpx.post(server.url + PREFIX + "/jobs", headers=_headers(server), timeout=60,
                            files={"file": ("jfk.flac", media, "audio/flac")},
                            data={"language": "en", "response_format": "srt"})
    assert answer.status_code == 202, answer.text
    job = _wait(server, answer.headers["Location"])
    assert job["status"] == "done" and job["progress"]["percent"] == 100.0
    assert [f["status"] for f in job["files"]] == ["done"]
    srt = httpx.get(server.url + job["url"] + "/result.srt", headers=_headers(server), timeout=10)
    assert srt.status_code == 200 and srt.text.startswith("1\n00:00:00,000 --> ")
    text = httpx.get(server.url + job["url"] + "/result.txt", headers=_headers(server), timeout=10).text
    assert normalize(text) == JFK_REFERENCE
    listed = httpx.get(server.url + PREFIX + "/jobs", headers=_headers(server), timeout=10).json()
    assert job["id"] in [j["id"] for j in listed["data"]]
    gone = httpx.delete(server.url + job["url"], headers=_headers(server), timeout=10)
    assert gone.status_code in (200, 204)
    assert httpx.get(server.url + job["url"], headers=_headers(server), timeout=10).status_code == 404


def test_jobs_need_the_key_and_refuse_server_paths_without_allow_dir(server, jfk):
    assert httpx.get(server.url + PREFIX + "/jobs", timeout=10).status_code == 401
    refused = httpx.post(server.url + PREFIX + "/jobs", headers=_headers(server), files={"path": (None, str(jfk))}, timeout=10)
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "path"


def test_the_page_is_served_with_its_own_assets(server):
    page = httpx.get(server.url + "/", timeout=10)
    assert page.status_code == 200 and "<html" in page.text.lower()
    assert "https://" not in page.text and "http://" not in page.text  # no CDN
