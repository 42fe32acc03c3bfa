"""The JSON a client sees for a job and its files, with progress: audio seconds done of total,
speed (audio seconds per second) and time left."""

from __future__ import annotations

from typing import Any

from .runner import Live
from .store import DONE, FileRow, JobRow, job_error


def file_view(job: JobRow, row: FileRow, live: Live | None, base: str) -> dict[str, Any]:
    total = row.duration if row.duration is not None else (live.total if live else None)
    if row.status == DONE:
        done = total or 0.0
    else:
        done = live.done if live else 0.0
    speed = live.speed if live else (row.duration / row.run_seconds if row.status == DONE and row.run_seconds and row.duration else None)
    view: dict[str, Any] = {
        "index": row.idx,
        "name": row.name,
        "status": row.status,
        "error": row.error,
        "phase": live.phase if live and row.status == "running" else None,
        "progress": _progress(done, total, speed if row.status != DONE else None, row.status == DONE),
        "language": row.language,
        "attempts": row.attempts,
        "started": row.started,
        "finished": row.finished,
        "run_seconds": row.run_seconds,
        "media_url": f"{base}/files/{row.idx}/media",
        "results": {fmt: f"{base}/files/{row.idx}/result.{fmt}" for fmt in job.formats} if row.status == DONE else {},
    }
    if row.status == DONE:
        view["progress"]["speed"] = None if speed is None else round(speed, 2)
    return view


def job_view(job: JobRow, live: dict[tuple[str, int], Live], prefix: str) -> dict[str, Any]:
    base = f"{prefix}/jobs/{job.id}"
    files = [file_view(job, f, live.get((job.id, f.idx)), base) for f in job.files]
    known = [f["progress"]["total"] for f in files]
    total = sum(t for t in known if t is not None) if all(t is not None for t in known) else None
    done = sum(f["progress"]["done"] for f in files)
    running = [live[(job.id, f.idx)] for f in job.files if (job.id, f.idx) in live]
    speed = next((lv.speed for lv in running if lv.speed), None)
    if speed is None:
        finished = [f for f in job.files if f.status == DONE and f.run_seconds and f.duration]
        run = sum(f.run_seconds or 0 for f in finished)
        speed = sum(f.duration or 0 for f in finished) / run if run > 0 else None
    settled = job.status in ("done", "failed", "cancelled")
    remaining = None
    if total is not None and not settled:
        pending = sum(f["progress"]["total"] - f["progress"]["done"] for f in files if f["status"] in ("queued", "running"))
        remaining = pending
    progress = _progress(done, total, None if settled else speed, job.status == DONE)
    if remaining is not None and speed:
        progress["eta_seconds"] = round(remaining / speed, 1)
    return {
        "id": job.id,
        "object": "mediakit.job",
        "status": job.status,
        "error": job_error(job),
        "created": job.created,
        "finished": job.finished,
        "options": job.options,
        "formats": list(job.formats),
        "progress": progress,
        "files": files,
        "url": base,
        "events_url": f"{base}/events",
        "results": ({fmt: f"{base}/result.{fmt}" for fmt in job.formats}
                    if len(job.files) == 1 and job.files[0].status == DONE else {}),
    }


def _progress(done: float, total: float | None, speed: float | None, complete: bool) -> dict[str, Any]:
    percent = 100.0 if complete else (min(100.0, 100.0 * done / total) if total else 0.0)
    eta = (total - done) / speed if speed and total is not None and not complete else None
    return {
        "done": round(done, 2),
        "total": None if total is None else round(total, 2),
        "percent": round(percent, 1),
        "speed": None if speed is None else round(speed, 2),
        "eta_seconds": None if eta is None else round(max(0.0, eta), 1),
    }
