"""The web page at / in a real browser (headless Chromium driven by playwright) on a real `mediakit serve`:
upload a clip, follow it live, play it with its subtitles, seek from the transcript, download the srt and
compare it with the command line's; nothing leaves loopback; it fits a phone; it works by keyboard.

Set MEDIAKIT_SCREENSHOT_DIR to keep the desktop and phone screenshots (docs/images holds the committed ones):
    MEDIAKIT_SCREENSHOT_DIR=docs/images python -m pytest tests/server/test_web_page.py
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from serverkit import DATA, KEY, httpx, start_server, stop_server

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is a test dependency: pip install -e '.[test]'")
CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no `chromium` on PATH (Debian: apt-get install chromium; .ci/run installs it)")

ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WAIT_MS = 60_000  # the longest any step may take: model loading, upload and decoding of an 11 s clip included


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("web"), "--model", "tiny.en", "--workers", "1")
    yield srv
    stop_server(srv)


@pytest.fixture(scope="module")
def cli_srt(tmp_path_factory) -> bytes:
    """What `mediakit transcribe` writes for the clip with the options the test picks on the page."""
    out = tmp_path_factory.mktemp("cli")
    subprocess.run([sys.executable, "-m", "mediakit", "transcribe", str(DATA / "jfk.flac"), "--model", "tiny.en",
                    "--language", "en", "--task", "transcribe", "--no-vad", "--output_format", "srt",
                    "--output_dir", str(out)], check=True, capture_output=True, timeout=300)
    return (out / "jfk.srt").read_bytes()


@pytest.fixture
def browser():
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


def _loopback_only(context) -> list[str]:
    """Route every request: loopback ones go on, any other is refused and recorded."""
    outside: list[str] = []

    def guard(route) -> None:
        url = route.request.url
        if urlsplit(url).hostname == "127.0.0.1":
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    context.route("**/*", guard)
    return outside


def _tab_to(page, selector: str, limit: int = 80) -> None:
    """Press Tab until the element ``selector`` has the focus (fails if Tab never reaches it)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement && document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"Tab never reached {selector} in {limit} presses")


def _screenshot(page, name: str, tmp_path: Path, full_page: bool = False) -> None:
    folder = Path(os.environ.get("MEDIAKIT_SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / name), full_page=full_page)


def _no_horizontal_overflow(page) -> None:
    widths = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"the page is {widths[0]} px wide in a {widths[1]} px window"


def test_upload_follow_play_seek_and_download_in_a_real_browser(server, cli_srt, browser, tmp_path):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    context.set_default_timeout(WAIT_MS)
    outside = _loopback_only(context)
    page = context.new_page()
    # File pickers are caught from the start: a picker opened before playwright intercepts them stays open
    # unseen and blocks the next ones (and expect_file_chooser turns the interception off and on again).
    choosers: list = []
    page.on("filechooser", lambda chooser: choosers.append(chooser))
    page.goto(server.url + "/")

    # The server wants a key: the page asks for it, by keyboard.
    page.wait_for_selector("#key-box:not([hidden])")
    page.fill("#api-key", KEY)
    page.focus("#api-key")
    _tab_to(page, "#key-save")
    page.keyboard.press("Enter")
    page.wait_for_selector("#key-box", state="hidden")
    page.wait_for_selector("#model option[value='tiny.en']", state="attached")
    page.wait_for_function("() => document.querySelector('#server-state').textContent.startsWith('Ready')")

    # The drop zone is reached by Tab and opens the file picker with Enter and with Space.
    page.focus("body")
    _tab_to(page, "#drop")
    for count, key in enumerate(("Enter", " "), start=1):
        page.keyboard.press(key)
        for _ in range(100):  # playwright delivers events while the page is waited on
            if len(choosers) == count:
                break
            page.wait_for_timeout(50)
        assert len(choosers) == count, f"{key!r} on the drop zone opened no file picker"
        assert choosers[-1].is_multiple() and page.evaluate("() => document.activeElement.id") == "drop"

    page.set_input_files("#files", str(DATA / "jfk.flac"))
    assert "jfk.flac" in page.inner_text("#chosen")
    page.select_option("#model", "tiny.en")
    page.select_option("#language", "en")
    page.select_option("#task", "transcribe")
    page.set_checked("#vad", False)
    for fmt in ("srt", "vtt", "txt", "json"):
        page.set_checked(f"#formats input[value='{fmt}']", True)
    # Every status the job's card shows, as the page draws it (a reload would lose this record).
    page.evaluate("""() => {
        window.seen = [];
        new MutationObserver(() => {
            for (const bar of document.querySelectorAll('#jobs .file progress'))
                window.seen.push([bar.closest('.job').dataset.status, Number(bar.value)]);
        }).observe(document.querySelector('#jobs'), {childList: true, subtree: true});
    }""")
    _tab_to(page, "#submit")
    page.keyboard.press("Enter")

    job = page.wait_for_selector("#jobs .job[data-status='done']")
    seen = page.evaluate("() => window.seen")
    assert seen[-1] == ["done", 100.0]
    assert any(status == "running" and value < 100 for status, value in seen), seen  # drawn live, before it ended
    job_id = job.get_attribute("id").removeprefix("job-")

    # The player: its subtitle track holds the transcript's segments as cues.
    _tab_to(page, f"#job-{job_id} button[data-focus='play-{job_id}-0']")
    page.keyboard.press(" ")
    page.wait_for_selector("#player-section:not([hidden]) #transcript li button")
    segments = json.loads(httpx.get(f"{server.url}/mediakit/v1/jobs/{job_id}/result.json",
                                    headers={"Authorization": f"Bearer {KEY}"}, timeout=10).text)["segments"]
    page.wait_for_function("(n) => { const t = document.querySelector('#media').textTracks[0];"
                           " return t && t.cues && t.cues.length === n; }", arg=len(segments))
    cues = page.evaluate("() => Array.from(document.querySelector('#media').textTracks[0].cues,"
                         " (c) => [c.startTime, c.endTime, c.text])")
    assert len(cues) == len(segments) >= 2
    for (start, end, text), segment in zip(cues, segments):
        assert abs(start - segment["start"]) < 0.002 and abs(end - segment["end"]) < 0.002
        assert text == segment["text"].strip()
    lines = page.locator("#transcript li")
    assert lines.count() == len(segments)

    # Clicking a segment seeks there, and the list shows it as the current one.
    page.wait_for_function("() => document.querySelector('#media').readyState >= 1")
    last = len(segments) - 1
    lines.nth(last).locator("button").click()
    page.wait_for_function("(t) => Math.abs(document.querySelector('#media').currentTime - t) < 1.0",
                           arg=segments[last]["start"])
    page.wait_for_selector(f"#seg-{last}.current")
    page.evaluate("() => document.querySelector('#media').pause()")
    # The transcript's lines are buttons: Tab reaches them and Enter seeks too.
    page.focus("#media")
    _tab_to(page, "#seg-0 button")
    page.keyboard.press("Enter")
    page.wait_for_function("(t) => document.querySelector('#media').currentTime < t", arg=segments[last]["start"])
    page.evaluate("() => document.querySelector('#media').pause()")

    # The srt as downloaded is the command line's, byte for byte; the download links are reached by Tab.
    _tab_to(page, "#player-downloads a[aria-label^='Download srt']")
    with page.expect_download() as download:
        page.keyboard.press("Enter")
    assert download.value.suggested_filename == "jfk.srt"
    saved = tmp_path / "jfk.srt"
    download.value.save_as(saved)
    assert saved.read_bytes() == cli_srt
    with page.expect_download() as download:
        page.click(f"#job-{job_id} a[aria-label^='Download vtt']")
    assert download.value.suggested_filename == "jfk.vtt"
    page.evaluate("() => window.scrollTo(0, 0)")
    _screenshot(page, "web-desktop.png", tmp_path, full_page=True)

    # A phone: nothing wider than the screen, the player and the jobs one under the other.
    phone = context.new_page()
    phone.set_viewport_size({"width": 390, "height": 844})
    phone.goto(server.url + "/")
    phone.wait_for_selector(f"#job-{job_id}[data-status='done']")  # the history comes back after a reload
    phone.click(f"#job-{job_id} button[data-focus='play-{job_id}-0']")
    phone.wait_for_selector("#transcript li button")
    _no_horizontal_overflow(phone)
    assert phone.is_hidden("#key-box")  # the key given on the other page is remembered
    phone.evaluate("() => document.querySelector('#player-section').scrollIntoView()")
    _screenshot(phone, "web-phone.png", tmp_path)

    assert outside == [], f"the page asked for addresses beyond loopback: {outside}"
    context.close()
