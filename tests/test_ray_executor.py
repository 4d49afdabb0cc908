"""The Ray executor against a local Ray (2 CPUs): same results as the local executor, resume, crashes,
a global request limit on a shared HTTP endpoint, and the CLI options."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from auditkit.api import run_audit
from auditkit.engine.cache import GenerationCache
from auditkit.engine.ray_executor import RayExecutor, split_concurrency
from tests.fixtures_engine import engine_request, write_suite
from tests.fixtures_http import LoopbackServer, loopback_server  # noqa: F401
from tests.fixtures_models import one_torch_thread, tiny_model_dir, tiny_models  # noqa: F401
from tests.fixtures_ray import generated_ids, ray_instance, settled_generated_ids  # noqa: F401

pytestmark = pytest.mark.slow  # starting Ray takes several seconds

# Fields that measure the run itself (time, energy) or where it came from; everything else must match.
_RUN_FIELDS = {"latency_s", "cpu_s", "energy_j", "energy_method", "cached"}


def _lines(run_dir: Path) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in (run_dir / "outputs.jsonl").read_text().splitlines()]
    return [{k: v for k, v in line.items() if k not in _RUN_FIELDS} for line in lines]


def _verdict(run_dir: Path) -> dict[str, Any]:
    data = json.loads((run_dir / "results.json").read_text())
    return {"metrics": data["metrics"], "findings": data["findings"], "status": data["status"]}


def _run(tmp_path: Path, name: str, *, runner: RayExecutor | None = None, **kwargs: Any):  # noqa: ANN202
    """``runner``: an executor object to use; ``executor="ray"`` instead goes through the request."""
    kwargs.setdefault("cache_path", tmp_path / f"{name}.sqlite")
    request = engine_request(out=tmp_path / name, **kwargs)
    return run_audit(request=request, executor=runner)


def test_split_concurrency_never_exceeds_the_global_limit() -> None:
    assert split_concurrency(total=8, replicas=3) == [3, 3, 2]
    assert split_concurrency(total=2, replicas=5) == [1, 1]  # fewer replicas than requests allowed
    assert split_concurrency(total=1, replicas=1) == [1]


def test_ray_gives_the_local_results_on_real_scorers(ray_instance, tmp_path: Path) -> None:
    common = dict(
        model="mock:biased",
        suites=("bias", "toxicity"),
        analyzers=("bias", "toxicity"),
        seed=7,
        analyzer_options={"toxicity": {"backend": "profanity-check"}},
    )
    local = _run(tmp_path, "local", **common)
    ray_executor = RayExecutor(score_items_per_task=200)
    remote = _run(tmp_path, "ray", runner=ray_executor, **common)
    assert ray_executor.replicas == {"generate": 2, "score": 2}  # both CPU slots used
    assert remote.counts == local.counts and remote.counts["generated"] == local.counts["prompts"]
    assert _lines(remote.run_dir) == _lines(local.run_dir)
    assert _verdict(remote.run_dir) == _verdict(local.run_dir)
    assert any(f["analyzer"] == "bias" for f in _verdict(remote.run_dir)["findings"])  # a real effect was seen


def test_request_executor_ray_runs_and_rerun_is_fully_cached(ray_instance, tmp_path: Path) -> None:
    suite = write_suite(tmp_path, n=30, analyzers_=("toxicity",), options={"toxicity": {"backend": "profanity-check"}})
    model = f"raycount:{tmp_path}"
    first = _run(tmp_path, "a", model=model, suites=(str(suite),), executor="ray", cache_path=tmp_path / "c.sqlite")
    ids = generated_ids(tmp_path)
    assert first.counts["generated"] == 30 and sorted(ids) == sorted(set(ids)) and len(ids) == 30
    assert len({json.loads(line)["pid"] for line in (tmp_path / "calls.jsonl").read_text().splitlines()}) == 2
    again = _run(tmp_path, "b", model=model, suites=(str(suite),), executor="ray", cache_path=tmp_path / "c.sqlite")
    assert again.counts["cached"] == 30 and len(generated_ids(tmp_path)) == 30  # no replica generated anything
    assert _lines(again.run_dir) == _lines(first.run_dir)


def test_interrupted_ray_run_resumes_without_regenerating(
    ray_instance, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite = write_suite(tmp_path, n=40)  # engine_chars analyzer; 10 batches of 4
    from tests import fixtures_engine  # noqa: F401  registers engine_chars in the driver

    model = f"raycount:{tmp_path}"
    real_put = GenerationCache.put_many
    commits: list[int] = []

    def put_then_interrupt(self: GenerationCache, items):  # noqa: ANN001, ANN202
        stored = real_put(self, items)
        commits.append(stored)
        if len(commits) == 3:
            raise KeyboardInterrupt  # Ctrl-C in the driver right after the third batch was committed
        return stored

    monkeypatch.setattr(GenerationCache, "put_many", put_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path, "run", model=model, suites=(str(suite),), executor="ray", cache_path=tmp_path / "c.sqlite")
    monkeypatch.setattr(GenerationCache, "put_many", real_put)
    first = settled_generated_ids(tmp_path)
    assert sum(commits) == 12 and 12 <= len(first) < 40  # in-flight batches may have run, uncommitted

    cache = GenerationCache(path=tmp_path / "c.sqlite")
    committed = {row[0] for row in cache._db.execute("SELECT prompt_id FROM generations")}
    cache.close()
    assert len(committed) == 12

    resumed = _run(tmp_path, "run", model=model, suites=(str(suite),), executor="ray", cache_path=tmp_path / "c.sqlite")
    second = generated_ids(tmp_path)[len(first) :]
    assert resumed.counts["cached"] == 12 and resumed.counts["generated"] == 28
    assert len(second) == 28 and set(second).isdisjoint(committed)  # only the rest was generated

    reference = _run(tmp_path, "local", model=model, suites=(str(suite),), cache_path=tmp_path / "fresh.sqlite")
    assert _lines(resumed.run_dir) == _lines(reference.run_dir)
    assert _verdict(resumed.run_dir) == _verdict(reference.run_dir)


def test_a_crashed_replica_costs_its_batches_and_the_rerun_retries_them(ray_instance, tmp_path: Path) -> None:
    suite = write_suite(tmp_path, n=40)
    model = f"raycount:{tmp_path}"
    kwargs = dict(model=model, suites=(str(suite),), executor="ray", cache_path=tmp_path / "c.sqlite")
    result = _run(tmp_path, "run", model_options={"crash_once": "1"}, max_error_rate=0.5, **kwargs)
    assert (tmp_path / "crashed").exists()
    errors = [line for line in _lines(result.run_dir) if line["error"]]
    # the batch running on the dead replica (and the one queued behind it) failed; the restarted replica
    # and the other one did the rest
    assert result.counts["errors"] == len(errors) and len(errors) in (4, 8)
    assert all(line["error"].startswith("Ray replica failed") for line in errors)
    assert result.counts["generated"] == 40 - len(errors)
    before = len(generated_ids(tmp_path))
    retried = _run(tmp_path, "run", **kwargs)
    assert retried.counts["cached"] == 40 - len(errors) and retried.counts["errors"] == 0
    assert sorted(generated_ids(tmp_path)[before:]) == sorted(line["id"] for line in errors)


def test_openai_through_ray_keeps_the_global_concurrency_limit(
    ray_instance, tmp_path: Path, loopback_server: LoopbackServer
) -> None:
    loopback_server.set_latency(0.1)
    suite = write_suite(tmp_path, n=48, generation={"max_new_tokens": 8}, analyzers_=("toxicity",),
                        options={"toxicity": {"backend": "profanity-check"}})
    common = dict(
        model="openai:loop",
        suites=(str(suite),),
        model_options={"base_url": loopback_server.base_url, "backoff": "0"},
        concurrency=3,
        batch_size=6,
    )
    ray_executor = RayExecutor()
    remote = _run(tmp_path, "ray", runner=ray_executor, **common)
    assert ray_executor.replicas["generate"] == 2  # min(2 CPU slots, concurrency 3)
    assert len(loopback_server.requests) == 48
    # 2 replicas with shares 2 + 1: the endpoint saw more than one replica at once, never more than 3
    assert loopback_server.peak_concurrency == 3
    local = _run(tmp_path, "local", **common)
    assert _lines(remote.run_dir) == _lines(local.run_dir)


def test_cli_executor_options(ray_instance, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from auditkit.cli.app import main

    suite = write_suite(tmp_path, n=6, analyzers_=("toxicity",), options={"toxicity": {"backend": "profanity-check"}})
    base = ["run", str(suite), "--model", "mock:echo", "--cache", str(tmp_path / "c.sqlite"), "--no-report", "-q"]
    assert main([*base, "--out", str(tmp_path / "r"), "--executor", "ray", "--ray-replicas", "1"]) == 0
    data = json.loads((tmp_path / "r" / "results.json").read_text())
    assert data["manifest"]["counts"]["generated"] == 6 and "--executor" in data["manifest"]["command"]
    assert main([*base, "--out", str(tmp_path / "x"), "--executor", "dask"]) == 2
    assert "choose 'local' or 'ray'" in capsys.readouterr().err
    assert main([*base, "--out", str(tmp_path / "y"), "--ray-address", "auto"]) == 2
    assert "need --executor ray" in capsys.readouterr().err


def test_tiny_hf_model_on_ray_matches_local(
    ray_instance, tmp_path: Path, tiny_model_dir: Path, one_torch_thread: None
) -> None:
    # a real transformer, loaded inside each replica from its folder: same greedy text as in the driver
    suite = write_suite(tmp_path, n=8, generation={"max_new_tokens": 6, "temperature": 0})
    from tests import fixtures_engine  # noqa: F401  registers engine_chars in the driver

    common = dict(model=f"hf:{tiny_model_dir}", suites=(str(suite),), batch_size=2, seed=1)
    ray_executor = RayExecutor()
    remote = _run(tmp_path, "ray", runner=ray_executor, **common)
    local = _run(tmp_path, "local", **common)
    assert ray_executor.replicas["generate"] == 2 and remote.counts["generated"] == 8
    lines = _lines(remote.run_dir)
    assert all(line["output"] for line in lines) and lines == _lines(local.run_dir)
    assert _verdict(remote.run_dir) == _verdict(local.run_dir)
