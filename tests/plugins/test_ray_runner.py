"""The ray runner (``--runner ray``): same outputs as the local runner, per-file errors as rows,
bounded retries for inputs that kill their worker, a node lost mid-run, s3:// URLs, an external
``ray start`` cluster and Ctrl-C followed by ``--skip_existing``.

Clusters are costly to start on a small machine: one ``ray start --head`` (a subprocess), one local
cluster in this process, then one simulated two-node cluster, in that order, each started once and
stopped at teardown, whatever the tests did. The stub plugin below (a distribution on ``sys.path``,
so every Ray worker discovers it through its entry point like a real install) is instant, sleeps
on ``slow*`` files and kills its worker process on ``poison*`` files.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mediakit.cli import app

cli = CliRunner()
STUB = "mkt_raystub"
STUB_SOURCE = '''
import os, time
from pathlib import Path

from mediakit import hookimpl
from mediakit.records import FeatureSpec
from mediakit.testing import FakeDecoder, FakeDemuxer, FakeFeaturizer, FakeModel

SPEC = FeatureSpec(n_mels=7)  # nobody else's: the built-in featurizer and demuxer stay in charge of real models


class Demuxer(FakeDemuxer):
    def demux(self, source, spec):
        with open(source, "rb") as handle:  # reads the file, so a missing one fails as it should
            handle.read(4)
        return super().demux(source, spec)


class Decoder(FakeDecoder):
    def decode(self, model, features, progress=None):
        stem = Path(features.audio.source).stem
        if stem.startswith("poison"):
            os._exit(3)  # as a segfault or the OOM killer would
        if stem.startswith("slow"):
            time.sleep(1.0)
        return super().decode(model, features, progress)


@hookimpl
def mediakit_register_models(register):
    register("raystub", lambda options, weights: FakeModel("raystub", SPEC))


@hookimpl
def mediakit_register_decoders(register):
    register("raystub", lambda options: Decoder())


@hookimpl
def mediakit_make_demuxer(source, options):
    try:
        with open(source, "rb") as handle:
            return Demuxer() if handle.read(4) == b"STUB" else None
    except OSError:
        return Demuxer() if Path(source).suffix == ".stub" else None


@hookimpl
def mediakit_make_featurizer(spec):
    return FakeFeaturizer() if spec == SPEC else None
'''
STUB_ARGS = ["-m", "raystub", "--decoder", "raystub"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stub_files(folder: Path, *names: str) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in names:
        path = folder / name
        path.write_bytes(b"STUB" + name.encode())
        paths.append(path)
    return paths


def _manifest(folder: Path) -> list[dict]:
    path = folder / "manifest.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file() and p.name != "manifest.jsonl"}


@pytest.fixture(scope="module")
def stub_site(tmp_path_factory):
    """The stub plugin installed as a distribution: visible to this process (for this module only)
    and, through PYTHONPATH, to every Ray process started while this module runs."""
    root = tmp_path_factory.mktemp("raysite")
    info = root / "mediakit_raystub-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: mediakit-raystub\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[mediakit]\nraystub = {STUB}\n")
    (root / f"{STUB}.py").write_text(textwrap.dedent(STUB_SOURCE))
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([str(root)] + ([saved] if saved else []))
    sys.path.insert(0, str(root))
    yield root
    sys.path.remove(str(root))
    sys.modules.pop(STUB, None)
    if saved is None:
        os.environ.pop("PYTHONPATH", None)
    else:
        os.environ["PYTHONPATH"] = saved


# --- without any cluster ---------------------------------------------------------------------------------


def test_plugins_list_shows_ray_unavailable_with_the_reason_when_ray_is_absent(monkeypatch, tmp_path, jfk_path):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    listing = cli.invoke(app, ["plugins", "list", "--json"])
    row = {r["name"]: r for r in json.loads(listing.stdout)}["ray"]
    assert row["status"] == "unavailable" and "pip install 'mediakit[ray]'" in row["reason"]
    assert row["stages"] == ["runner"]
    table = cli.invoke(app, ["plugins", "list"]).stdout
    assert "unavailable: Ray is not installed" in table
    result = cli.invoke(app, ["transcribe", str(jfk_path), "-o", str(tmp_path), "--runner", "ray"])
    assert result.exit_code == 1
    assert "the ray runner is unavailable: Ray is not installed (pip install 'mediakit[ray]')" in result.output
    assert list(tmp_path.iterdir()) == []


def test_runner_names_and_options_are_checked_before_anything_runs(tmp_path, jfk_path):
    unknown = cli.invoke(app, ["transcribe", str(jfk_path), "-o", str(tmp_path), "--runner", "dask"])
    assert unknown.exit_code == 1 and "unknown runner 'dask'; available: local, ray" in unknown.output
    local = cli.invoke(app, ["transcribe", str(jfk_path), "-o", str(tmp_path), "--workers", "2"])
    assert local.exit_code == 1 and "--runner ray" in local.output
    stdout = cli.invoke(app, ["transcribe", str(jfk_path), "--runner", "ray", "--stdout", "-f", "txt"])
    assert stdout.exit_code == 1 and "--stdout works with the local runner only" in stdout.output
    assert list(tmp_path.iterdir()) == []


def test_a_worker_without_ray_reports_each_input_as_a_row(stub_site, tmp_path):
    from mediakit.config import ModelOptions, OutputOptions, RunConfig
    from mediakit_ray.plan import WorkItem
    from mediakit_ray.worker import TranscribeWorker

    good, = _stub_files(tmp_path / "in", "good.wav")
    out = tmp_path / "out"
    config = RunConfig(model=ModelOptions(name="raystub"), decoder="raystub",
                       output=OutputOptions(formats=("txt", "srt"), output_dir=str(out), skip_existing=True))
    worker = TranscribeWorker(config)
    assert worker.ready()["error"] is None
    targets = (("txt", str(out / "good.txt")), ("srt", str(out / "good.srt")))
    row = worker.transcribe(WorkItem(0, str(good), targets))
    assert row["status"] == "done" and row["audio_seconds"] == 1.0 and row["node"] == "local"
    assert (out / "good.txt").read_text() == "heard good\n"
    assert worker.transcribe(WorkItem(0, str(good), targets))["status"] == "skipped"
    missing = worker.transcribe(WorkItem(1, str(tmp_path / "in" / "gone.wav"), (("txt", str(out / "gone.txt")),)))
    assert missing["status"] == "failed" and str(tmp_path / "in" / "gone.wav") in missing["error"]
    assert "\n" not in missing["error"] and not (out / "gone.txt").exists()
    broken = TranscribeWorker(RunConfig(model=ModelOptions(name="no-such-model")))
    assert "unknown model 'no-such-model'" in broken.ready()["error"]


# --- an external cluster: `ray start --head`, joined with --ray_address auto --------------------------------


@pytest.fixture(scope="module")
def external_cluster(stub_site, tmp_path_factory):
    """``ray start --head --block`` in its own session; stopped (SIGTERM, then SIGKILL) at teardown."""
    pytest.importorskip("ray", reason="Ray is not installed (pip install 'mediakit[ray]')")
    logs = tmp_path_factory.mktemp("raystart") / "ray-start.log"
    command = [str(Path(sys.executable).parent / "ray"), "start", "--head", "--block", f"--port={_free_port()}",
               "--num-cpus=2", "--include-dashboard=false", "--disable-usage-stats", "--object-store-memory=100000000"]
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    with logs.open("w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while "This command will now block" not in logs.read_text():
            assert process.poll() is None, f"ray start failed:\n{logs.read_text()[-2000:]}"
            assert time.monotonic() < deadline, "ray start did not come up within 90 s"
            time.sleep(0.5)
        yield env
    finally:
        process.terminate()
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def _cli_process(env: dict, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "mediakit", "transcribe", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def test_joins_a_ray_start_cluster_and_a_rerun_after_ctrl_c_does_only_what_is_missing(external_cluster, tmp_path):
    inputs = _stub_files(tmp_path / "in", *(f"slow{i}.wav" for i in range(6)))
    out = tmp_path / "out"
    args = [*map(str, inputs), "-o", str(out), "-f", "txt,json", *STUB_ARGS, "--runner", "ray", "--ray_address", "auto", "--workers", "1"]
    first = _cli_process(external_cluster, *args)
    try:
        deadline = time.monotonic() + 120
        while len(_manifest(out)) < 2:
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline, "no input finished within 120 s"
            time.sleep(0.2)
        first.send_signal(signal.SIGINT)  # Ctrl-C
        _, stderr = first.communicate(timeout=60)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
            first.wait()
    assert first.returncode == 130 and "Interrupted." in stderr
    finished = {Path(r["source"]).stem for r in _manifest(out) if r["status"] == "done"}
    assert 2 <= len(finished) < 6
    assert not [p for p in out.iterdir() if p.name.startswith(".")], "a partial output was left behind"
    assert {p.stem for p in out.glob("*.txt")} == {p.stem for p in out.glob("*.json")} == finished

    second = _cli_process(external_cluster, *args, "--skip_existing")
    _, stderr = second.communicate(timeout=180)
    assert second.returncode == 0, stderr
    rows = {Path(r["source"]).stem: r for r in _manifest(out)}
    assert {s for s, r in rows.items() if r["status"] == "skipped"} == finished
    assert {s for s, r in rows.items() if r["status"] == "done"} == {f"slow{i}" for i in range(6)} - finished
    assert sorted(p.name for p in out.glob("*.txt")) == [f"slow{i}.txt" for i in range(6)]
    assert (out / "slow5.txt").read_text() == "heard slow5\n"


# --- a local cluster in this process, shared by the tests below ---------------------------------------------


@pytest.fixture(scope="module")
def s3_port() -> int:
    return _free_port()


@pytest.fixture(scope="module")
def ray_local(stub_site, s3_port):
    """One single-node cluster for the tests below (2 CPUs, a small object store); its processes see the
    stub plugin and the loopback S3 endpoint through the environment they inherit."""
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'mediakit[ray]')")
    saved = {k: os.environ.get(k) for k in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "RAY_ADDRESS")}
    os.environ.update(AWS_ENDPOINT_URL=f"http://127.0.0.1:{s3_port}", AWS_ACCESS_KEY_ID="testing",
                      AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
    os.environ.pop("RAY_ADDRESS", None)
    ray.init(address="local", num_cpus=2, include_dashboard=False, object_store_memory=100 * 2**20,
             log_to_driver=False, logging_level="ERROR")
    try:
        yield ray
    finally:
        ray.shutdown()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.mark.weights
def test_real_model_outputs_are_the_local_runners_byte_for_byte(ray_local, tmp_path, jfk_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a.flac", "b.flac"):
        (folder / name).write_bytes(jfk_path.read_bytes())
    (folder / "broken.wav").write_bytes(b"RIFF not really audio")
    common = [str(folder), "-m", "tiny.en", "--threads", "1"]
    local = cli.invoke(app, ["transcribe", *common, "-o", str(tmp_path / "local")])
    distributed = cli.invoke(app, ["transcribe", *common, "-o", str(tmp_path / "ray"), "--runner", "ray", "--workers", "2"])
    assert local.exit_code == distributed.exit_code == 1
    assert f"Error: {folder / 'broken.wav'}: " in distributed.output
    assert _files(tmp_path / "ray") == _files(tmp_path / "local")
    assert len(_files(tmp_path / "ray")) == 10
    rows = {Path(r["source"]).name: r for r in _manifest(tmp_path / "ray")}
    assert {n: r["status"] for n, r in rows.items()} == {"a.flac": "done", "b.flac": "done", "broken.wav": "failed"}
    assert rows["a.flac"]["audio_seconds"] == pytest.approx(11.0, abs=0.1) and rows["a.flac"]["node"]
    assert rows["a.flac"]["seconds"] > 0 and rows["a.flac"]["error"] is None
    assert "ffmpeg" in rows["broken.wav"]["error"] and str(folder / "broken.wav") in rows["broken.wav"]["error"]

    again = cli.invoke(app, ["transcribe", *common, "-o", str(tmp_path / "ray"), "--runner", "ray", "--skip_existing"])
    assert again.exit_code == 1
    assert {Path(r["source"]).name: r["status"] for r in _manifest(tmp_path / "ray")} == {
        "a.flac": "skipped", "b.flac": "skipped", "broken.wav": "failed"}


def test_a_poison_input_is_retried_a_bounded_number_of_times_and_the_others_finish(ray_local, tmp_path):
    inputs = _stub_files(tmp_path / "in", "one.wav", "poison.wav", "two.wav", "three.wav")
    out = tmp_path / "out"
    result = cli.invoke(app, ["transcribe", *map(str, inputs), "-o", str(out), "-f", "txt", *STUB_ARGS, "--runner", "ray"])
    assert result.exit_code == 1
    rows = {Path(r["source"]).stem: r for r in _manifest(out)}
    assert len(rows) == 4
    assert {s: r["status"] for s, r in rows.items()} == {"one": "done", "poison": "failed", "two": "done", "three": "done"}
    assert rows["poison"]["attempts"] == 3  # the default: tried again twice
    assert "died while transcribing it, 3 times" in rows["poison"]["error"]
    assert f"Error: {inputs[1]}: the worker process died" in result.output
    assert sorted(_files(out)) == ["one.txt", "three.txt", "two.txt"]


@pytest.fixture
def s3(ray_local, s3_port):
    """moto's S3 server on 127.0.0.1, with a bucket; stopped after the test."""
    pytest.importorskip("s3fs", reason="s3fs is not installed (pip install 'mediakit[s3]')")
    server_module = pytest.importorskip("moto.server", reason="moto[server] is not installed")
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=s3_port, verbose=False)
    server.start()
    try:
        import s3fs

        fs = s3fs.S3FileSystem(anon=False, skip_instance_cache=True)
        fs.mkdir("media")
        yield fs
    finally:
        server.stop()


def test_inputs_and_outputs_at_s3_urls(s3, tmp_path):
    inputs = _stub_files(tmp_path / "in", "first.wav", "second.mp3", "notes.txt")
    for path in inputs:
        s3.put_file(str(path), f"media/talks/{path.name}")
    local = cli.invoke(app, ["transcribe", *map(str, inputs[:2]), "-o", str(tmp_path / "local"), *STUB_ARGS])
    assert local.exit_code == 0, local.output
    result = cli.invoke(app, ["transcribe", "s3://media/talks", "s3://media/talks/missing.wav", "-o", "s3://media/out",
                              *STUB_ARGS, "--runner", "ray", "--workers", "2"])
    assert result.exit_code == 1
    assert "Error: s3://media/talks/missing.wav: no such file" in result.output
    written = {Path(p).name: s3.cat_file(p) for p in s3.find("media/out") if not p.endswith("manifest.jsonl")}
    assert written == _files(tmp_path / "local")  # the local runner's bytes, the .txt input not taken for media
    rows = [json.loads(line) for line in s3.cat_file("media/out/manifest.jsonl").decode().splitlines()]
    assert sorted((r["source"], r["status"]) for r in rows) == [
        ("s3://media/talks/first.wav", "done"), ("s3://media/talks/missing.wav", "failed"), ("s3://media/talks/second.mp3", "done")]


# --- two nodes simulated with ray.cluster_utils.Cluster (last: it replaces the local cluster) ----------------


@pytest.fixture(scope="module")
def two_nodes(ray_local):
    from ray.cluster_utils import Cluster

    ray_local.shutdown()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "object_store_memory": 80 * 2**20,
                                                           "include_dashboard": False})
    try:
        worker_node = cluster.add_node(num_cpus=1, object_store_memory=80 * 2**20)
        ray_local.init(address=cluster.address, log_to_driver=False, logging_level="ERROR")
        cluster.wait_for_nodes()
        yield cluster, worker_node
    finally:
        ray_local.shutdown()
        cluster.shutdown()


class _RemoveNodeAfterBothWorked:
    """Batch events that take the second node away once both nodes have finished an input."""

    def __init__(self, cluster, node, manifest_dir: Path):
        self.cluster, self.node, self.dir = cluster, node, manifest_dir
        self.removal: threading.Thread | None = None
        self.nodes_before: set[str] = set()

    def file_started(self, source, index, total):
        pass

    def file_progress(self, source, done, total):
        pass

    def file_finished(self, result):
        nodes = {r["node"] for r in _manifest(self.dir) if r["status"] == "done"}
        if self.removal is None and len(nodes) == 2:
            self.nodes_before = nodes
            self.removal = threading.Thread(target=self.cluster.remove_node, args=(self.node,))
            self.removal.start()


def test_two_nodes_share_the_batch_and_a_node_removed_mid_run_loses_nothing(two_nodes, tmp_path):
    from mediakit.runners import transcribe_batch

    cluster, worker_node = two_nodes
    names = [f"slow{i}.wav" for i in range(8)]
    inputs = _stub_files(tmp_path / "in", *names)
    out = tmp_path / "out"
    events = _RemoveNodeAfterBothWorked(cluster, worker_node, out)
    summary = transcribe_batch(inputs, out, runner="ray", model="raystub", decoder="raystub", formats=["txt", "srt"], events=events)
    assert events.removal is not None, "the second node finished no input"
    events.removal.join(timeout=60)
    assert len(events.nodes_before) == 2
    assert summary.ok and summary.count("done") == 8
    rows = _manifest(out)
    assert sorted(Path(r["source"]).name for r in rows) == names  # one line per input, none twice
    assert sorted(_files(out)) == sorted(f"slow{i}.{ext}" for i in range(8) for ext in ("srt", "txt"))
    assert all((out / f"slow{i}.txt").read_text() == f"heard slow{i}\n" for i in range(8))
    assert not [p for p in out.iterdir() if p.name.startswith(".")]
