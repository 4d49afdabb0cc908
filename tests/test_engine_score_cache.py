"""The score cache: reruns reuse scores, changes invalidate only what they touch, errors and plugins that
did not opt in are never cached, --no-cache is honoured, and scorers load only when something is scored."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from auditkit.analyzers.base import Analysis, Observation, analyzers, caches_scores
from auditkit.api import run_audit
from auditkit.cli.app import main
from auditkit.engine.cache import GenerationCache, analyzer_key, output_digest, score_key
from auditkit.engine.results import validate_results
from auditkit.errors import ConfigError
from auditkit.records import Generation, GenerationConfig, Metric, Prompt, Score
from tests.fixtures_engine import FAKES, ScriptedAdapter, engine_request, write_suite
from tests.fixtures_ray import ray_instance  # noqa: F401  (also registers the raycount adapter)

CALLS: Counter[str] = Counter()
"""Outputs scored, per analyzer name."""
LOADS: Counter[str] = Counter()
FAIL_TEXT: set[str] = set()
"""Outputs containing one of these get an error score (a transient failure: not part of the identity)."""
BROKEN: set[str] = set()
"""Analyzers whose ``load`` raises, as a scorer with a broken install would."""
VERSION = {"sc_count": "1"}


class CountingAnalyzer:
    """Scores output length (+ ``offset``); counts what it scores; opts in to the score cache."""

    batch_size = 3
    cache_scores = True

    def __init__(self, *, name: str, options: Mapping[str, Any]) -> None:
        self.name = name
        self.offset = float(options.get("offset", 0))
        self.identity = {"scorer": "count", "version": VERSION.get(name, "1"), "offset": self.offset}

    def load(self) -> None:
        LOADS[self.name] += 1
        if self.name in BROKEN:
            raise ConfigError(f"{self.name}: the scorer's model cannot be loaded (reinstall it)")

    def score(self, *, items: Sequence[Observation]) -> list[Score]:
        CALLS[self.name] += len(items)
        out = []
        for item in items:
            text = item.generation.output or ""
            if any(bad in text for bad in FAIL_TEXT):
                out.append(Score(prompt_id=item.prompt.id, analyzer=self.name, name="chars", value=None,
                                 error="transient scorer failure"))
                continue
            out.append(Score(prompt_id=item.prompt.id, analyzer=self.name, name="chars",
                             value=len(text) + self.offset, label="long" if len(text) > 20 else None,
                             details={"words": len(text.split()), "spans": [[0, 1, "x"]]}))
            out.append(Score(prompt_id=item.prompt.id, analyzer=self.name, name="half", value=len(text) / 2))
        return out

    def aggregate(self, *, items: Sequence[Observation], scores: Sequence[Score]) -> Analysis:
        mine = [s for s in scores if s.analyzer == self.name]
        values = [s.value for s in mine if s.name == "chars" and s.value is not None]
        mean = sum(values) / len(values) if values else None
        return Analysis(
            metrics=(Metric(analyzer=self.name, name="mean_chars", value=mean, n=len(values)),),
            summary={"order": [s.prompt_id for s in scores if s.analyzer == self.name]},
        )


class PlainAnalyzer(CountingAnalyzer):
    """The same analyzer without the opt-in: a plugin that says nothing is never cached."""

    cache_scores = False


class NoAttributeAnalyzer:
    name = "sc_bare"
    batch_size = 8
    identity = {"scorer": "bare", "version": "1"}

    def __init__(self, *, options: Mapping[str, Any]) -> None:
        pass

    def score(self, *, items: Sequence[Observation]) -> list[Score]:
        CALLS[self.name] += len(items)
        return [Score(prompt_id=i.prompt.id, analyzer=self.name, name="one", value=1.0) for i in items]

    def aggregate(self, *, items: Sequence[Observation], scores: Sequence[Score]) -> Analysis:
        return Analysis()


class CrashingAnalyzer(CountingAnalyzer):
    def score(self, *, items: Sequence[Observation]) -> list[Score]:
        CALLS[self.name] += len(items)
        raise RuntimeError("the whole batch failed")


analyzers.register("sc_count")(lambda *, options: CountingAnalyzer(name="sc_count", options=options))
analyzers.register("sc_other")(lambda *, options: CountingAnalyzer(name="sc_other", options=options))
analyzers.register("sc_plain")(lambda *, options: PlainAnalyzer(name="sc_plain", options=options))
analyzers.register("sc_bare")(lambda *, options: NoAttributeAnalyzer(options=options))
analyzers.register("sc_crash")(lambda *, options: CrashingAnalyzer(name="sc_crash", options=options))

CACHED = ("sc_count", "sc_other")


@pytest.fixture(autouse=True)
def _reset() -> None:
    CALLS.clear()
    LOADS.clear()
    FAIL_TEXT.clear()
    BROKEN.clear()
    VERSION["sc_count"] = "1"


def _run(tmp_path: Path, suite: Path, *, model: str = "a", out: str = "out", **kwargs: Any):  # noqa: ANN202
    kwargs.setdefault("cache_path", tmp_path / "cache.sqlite")
    CALLS.clear()
    LOADS.clear()
    return run_audit(
        request=engine_request(
            model=f"enginefake:{model}", out=tmp_path / out, suites=(str(suite),), **kwargs
        )
    )


def _results(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "results.json").read_text())


def _verdict(run_dir: Path) -> dict[str, Any]:
    data = _results(run_dir)
    return {"metrics": data["metrics"], "findings": data["findings"], "analyses": data["analyses"]}


def _outputs(run_dir: Path) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in (run_dir / "outputs.jsonl").read_text().splitlines()]
    return [{k: v for k, v in line.items() if k != "cached"} for line in lines]


def _stored(cache: Path) -> Counter[str]:
    db = sqlite3.connect(cache)
    try:
        return Counter(row[0] for row in db.execute("SELECT analyzer FROM scores"))
    finally:
        db.close()


# ------------------------------------------------------------------------------------------ keys


def test_keys_cover_identity_options_prompt_and_output_but_not_bookkeeping() -> None:
    prompt = Prompt(
        id="p1", suite="s", template="t", prompt="hello", attributes={"group": "a"}, analyzers=("x",)
    )
    gen = Generation(prompt_id="p1", output="hi there", output_tokens=2, token_logprobs=(-0.1, -0.2))
    base = output_digest(prompt=prompt, generation=gen)
    # which analyzers a probe names, and whether the output came from the cache, change no score
    def prompt_with(**changes: Any) -> Prompt:
        return Prompt.from_dict({**prompt.to_dict(), **changes})

    def generation_with(**changes: Any) -> Generation:
        return Generation.from_dict({**gen.to_dict(), **changes})

    assert base == output_digest(prompt=prompt_with(analyzers=["x", "y"]), generation=gen)
    assert base == output_digest(prompt=prompt, generation=generation_with(cached=True))
    from_cache = Generation.from_dict(json.loads(json.dumps(gen.to_dict())))
    assert base == output_digest(prompt=prompt, generation=from_cache)
    assert base != output_digest(prompt=prompt_with(attributes={"group": "b"}), generation=gen)
    assert base != output_digest(prompt=prompt_with(reference="r"), generation=gen)
    assert base != output_digest(prompt=prompt, generation=generation_with(output="hi"))
    assert base != output_digest(prompt=prompt, generation=generation_with(energy_j=1.0))

    key = analyzer_key(name="tox", identity={"version": "1"}, options={"threshold": 0.5})
    assert key == analyzer_key(name="tox", identity={"version": "1"}, options={"threshold": 0.5})
    assert key != analyzer_key(name="tox", identity={"version": "2"}, options={"threshold": 0.5})
    assert key != analyzer_key(name="tox", identity={"version": "1"}, options={"threshold": 0.6})
    assert key != analyzer_key(name="bias", identity={"version": "1"}, options={"threshold": 0.5})
    assert score_key(analyzer=key, output=base) != score_key(analyzer=key + "x", output=base)


def test_store_round_trip_skips_outputs_with_an_error_score(tmp_path: Path) -> None:
    cache = GenerationCache(path=tmp_path / "c.sqlite")
    good = (Score(prompt_id="p1", analyzer="a", name="x", value=0.5, label="l", details={"k": [1, 2]}),)
    bad = (Score(prompt_id="p2", analyzer="a", name="x", value=1.0),
           Score(prompt_id="p2", analyzer="a", name="y", value=None, error="boom"))
    assert cache.put_scores([("k1", "a", good), ("k2", "a", bad), ("k3", "a", ())]) == 2
    assert cache.present_scores(["k1", "k2", "k3", "k4"]) == {"k1", "k3"}
    found = cache.get_scores(["k1", "k2", "k3"])
    assert found == {"k1": good, "k3": ()}  # an output may have no scores; that is stored too

    import math

    import numpy as np

    odd = (Score(prompt_id="p4", analyzer="a", name="x", value=float("nan"), label="\ud800 lone",
                 details={"n": np.int64(3), "v": np.array([0.5, 1.5]), "t": (1, 2)}),)
    unstorable = (Score(prompt_id="p5", analyzer="a", name="x", value=1.0, details={"o": object()}),)
    assert cache.put_scores([("k4", "a", odd), ("k5", "a", unstorable)]) == 1
    (back,) = cache.get_scores(["k4", "k5"])["k4"]
    assert math.isnan(back.value) and back.label == "\ud800 lone"
    assert back.details == {"n": 3, "v": [0.5, 1.5], "t": [1, 2]}
    cache.close()


def test_opt_in_is_explicit() -> None:
    assert caches_scores(CountingAnalyzer(name="sc_count", options={}))
    assert not caches_scores(PlainAnalyzer(name="sc_plain", options={}))
    assert not caches_scores(NoAttributeAnalyzer(options={}))
    from auditkit.analyzers.base import build_analyzer

    for name in ("toxicity", "bias", "memorization", "energy"):
        assert caches_scores(build_analyzer(name=name, options={})), name


# ----------------------------------------------------------------------------------------- reruns


def test_rerun_scores_nothing_and_gives_identical_results(tmp_path: Path) -> None:
    suite = write_suite(tmp_path, n=10, analyzers_=(*CACHED, "sc_plain", "sc_bare"))
    FAKES["a"] = ScriptedAdapter()
    first = _run(tmp_path, suite, out="first")
    assert CALLS == {"sc_count": 10, "sc_other": 10, "sc_plain": 10, "sc_bare": 10}
    assert _results(first.run_dir)["manifest"]["cache"]["scores"] == {"cached": 0, "computed": 40}
    assert _stored(tmp_path / "cache.sqlite") == {"sc_count": 10, "sc_other": 10}  # plugins never cached

    FAKES["a"] = ScriptedAdapter(forbid_generate=True)
    again = _run(tmp_path, suite, out="again")
    assert CALLS == {"sc_plain": 10, "sc_bare": 10}  # the opted-in analyzers scored nothing
    assert LOADS == {"sc_plain": 1}  # and were not even loaded; the plain one scores, so it loads
    data = _results(again.run_dir)
    validate_results(data=data)
    assert data["manifest"]["cache"]["scores"] == {"cached": 20, "computed": 20}
    assert _verdict(again.run_dir) == _verdict(first.run_dir)
    assert _outputs(again.run_dir) == _outputs(first.run_dir)


class FixedCostAdapter(ScriptedAdapter):
    """Reports its own latency and energy (as a replay file or an API does), so two runs can produce
    identical generation records; ``alter`` changes the outputs that contain it."""

    def __init__(self, *, alter: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.alter = alter

    def generate(self, *, prompts: Sequence[Prompt], config: GenerationConfig) -> list[Generation]:
        out = []
        for gen in super().generate(prompts=prompts, config=config):
            text = gen.output or ""
            if self.alter is not None and self.alter in text:
                text += "!"
            out.append(Generation(**{**gen.to_dict(), "output": text, "latency_s": 0.5, "cpu_s": 0.25,
                                     "energy_j": 2.0}))
        return out


def test_changes_invalidate_only_the_scores_they_touch(tmp_path: Path) -> None:
    suite = write_suite(tmp_path, n=6, analyzers_=CACHED)
    FAKES["a"] = FixedCostAdapter()
    _run(tmp_path, suite)

    # options of one analyzer: only its scores
    options_suite = write_suite(tmp_path, n=6, analyzers_=CACHED, options={"sc_count": {"offset": 1}})
    result = _run(tmp_path, options_suite)
    assert CALLS == {"sc_count": 6}
    mean = next(m for m in result.metrics if m.analyzer == "sc_count")
    assert mean.value == pytest.approx(_mean_chars(result, offset=1))  # the new option took effect

    # its identity (a new scorer version), same options: only its scores
    VERSION["sc_count"] = "2"
    _run(tmp_path, suite)
    assert CALLS == {"sc_count": 6}

    # another model whose records equal the first one's but for one output: that output only
    FAKES["b"] = FixedCostAdapter(model="other", alter="item 2")
    _run(tmp_path, suite, model="b")
    assert CALLS == {"sc_count": 1, "sc_other": 1}
    # a regenerated output is a new record (measured latency and energy differ): it is scored again
    FAKES["c"] = ScriptedAdapter(model="third")
    _run(tmp_path, suite, model="c")
    assert CALLS == {"sc_count": 6, "sc_other": 6}

    # one prompt edited: its output and scores only
    suite.write_text(suite.read_text().replace('"item 4"', '"thing 4"'))
    _run(tmp_path, suite)
    assert CALLS == {"sc_count": 1, "sc_other": 1}
    _run(tmp_path, suite)
    assert CALLS == {}


def _mean_chars(result: Any, *, offset: float) -> float:
    lines = [json.loads(line) for line in (result.run_dir / "outputs.jsonl").read_text().splitlines()]
    return sum(len(line["output"]) + offset for line in lines) / len(lines)


def test_error_scores_are_retried_next_run(tmp_path: Path) -> None:
    suite = write_suite(tmp_path, n=6, analyzers_=("sc_count", "sc_crash"))
    FAKES["a"] = ScriptedAdapter()
    FAIL_TEXT.add("item 3")
    first = _run(tmp_path, suite, max_error_rate=1.0)
    assert first.counts["score_errors"] == 7  # one output of sc_count, all six of sc_crash
    assert _stored(tmp_path / "cache.sqlite") == {"sc_count": 5}  # neither the error nor a crashed batch

    FAIL_TEXT.clear()
    again = _run(tmp_path, suite, max_error_rate=1.0)
    assert CALLS == {"sc_count": 1, "sc_crash": 6}
    assert again.counts["score_errors"] == 6
    assert _stored(tmp_path / "cache.sqlite") == {"sc_count": 6}
    assert _results(again.run_dir)["manifest"]["cache"]["scores"] == {"cached": 5, "computed": 7}


def test_scores_reach_aggregate_in_output_order_whatever_was_cached(tmp_path: Path) -> None:
    suite = write_suite(tmp_path, n=8, analyzers_=("sc_count",))
    FAKES["a"] = ScriptedAdapter()
    FAIL_TEXT.update({"item 1", "item 6"})  # a rerun mixes cached and freshly scored outputs
    first = _run(tmp_path, suite, max_error_rate=1.0)
    FAIL_TEXT.clear()
    again = _run(tmp_path, suite, max_error_rate=1.0)
    assert CALLS == {"sc_count": 2}
    order = _results(again.run_dir)["analyses"]["sc_count"]["summary"]["order"]
    assert order == _results(first.run_dir)["analyses"]["sc_count"]["summary"]["order"]


def test_no_cache_neither_reads_nor_writes_scores(tmp_path: Path) -> None:
    suite = write_suite(tmp_path, n=4, analyzers_=CACHED)
    FAKES["a"] = ScriptedAdapter()
    _run(tmp_path, suite)  # fills the default cache file of this test
    cache = tmp_path / "cache.sqlite"
    before = _stored(cache)
    result = _run(tmp_path, suite, use_cache=False, cache_path=cache)
    assert CALLS == {"sc_count": 4, "sc_other": 4}
    assert _stored(cache) == before
    assert _results(result.run_dir)["manifest"]["cache"] == {
        "enabled": False, "path": None, "scores": {"cached": 0, "computed": 8}
    }
    other = tmp_path / "never.sqlite"
    _run(tmp_path, suite, use_cache=False, cache_path=other)
    assert not other.exists()


# ---------------------------------------------------------------------------------- loading scorers


def test_broken_scorer_stops_a_run_that_must_score_before_generation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suite = write_suite(tmp_path, n=4, analyzers_=CACHED)
    BROKEN.add("sc_other")
    FAKES["a"] = adapter = ScriptedAdapter()
    with pytest.raises(ConfigError, match="cannot be loaded"):
        _run(tmp_path, suite)
    assert adapter.calls == 0 and not (tmp_path / "out" / "results.json").exists()
    code = main(["run", str(suite), "--model", "enginefake:a", "--out", str(tmp_path / "cli"), "--cache",
                 str(tmp_path / "cache.sqlite"), "--no-report"])
    assert code == 2 and "cannot be loaded" in capsys.readouterr().err and adapter.calls == 0

    # the outputs are generated and scored once the scorer works ...
    BROKEN.clear()
    _run(tmp_path, suite)
    # ... after which a fully cached rerun never loads it, so the broken install does not matter to it
    BROKEN.add("sc_other")
    FAKES["a"] = ScriptedAdapter(forbid_generate=True)
    result = _run(tmp_path, suite)
    assert result.status == "complete" and LOADS == {} and CALLS == {}
    # but one new output to score (a missing generation) needs the scorer: the run stops before generating
    FAKES["a"] = adapter = ScriptedAdapter()
    bigger = write_suite(tmp_path, n=5, analyzers_=CACHED)
    with pytest.raises(ConfigError):
        _run(tmp_path, bigger)
    assert adapter.calls == 0


def test_broken_profanity_check_stops_before_generation_unless_every_score_is_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from auditkit.analyzers.toxicity_backends import ProfanityCheckScorer

    suite = write_suite(tmp_path, n=3, analyzers_=("toxicity",))

    def broken(self: Any) -> Any:
        raise ConfigError("alt-profanity-check could not load its shipped model: simulated")

    with monkeypatch.context() as patch:
        patch.setattr(ProfanityCheckScorer, "_load", broken)
        FAKES["a"] = adapter = ScriptedAdapter()
        with pytest.raises(ConfigError, match="simulated"):
            _run(tmp_path, suite)
        assert adapter.calls == 0
    FAKES["a"] = ScriptedAdapter()
    first = _run(tmp_path, suite)
    monkeypatch.setattr(ProfanityCheckScorer, "_load", broken)
    FAKES["a"] = ScriptedAdapter(forbid_generate=True)
    again = _run(tmp_path, suite)
    assert again.status == "complete" and _verdict(again.run_dir) == _verdict(first.run_dir)


_SCRIPT = """
import json, sys
from pathlib import Path
from auditkit.engine.plan import AuditRequest
from auditkit.api import run_audit
out, cache = Path(sys.argv[1]), Path(sys.argv[2])
run_audit(request=AuditRequest(model="mock:biased", suites=("standard",), out=out, cache_path=cache,
                               quiet=True, report=False))
print(json.dumps({m: m in sys.modules for m in ("profanity_check", "vaderSentiment.vaderSentiment")}))
"""


def test_fully_cached_standard_audit_loads_no_scorer_and_matches(tmp_path: Path) -> None:
    def run(out: str) -> dict[str, bool]:
        command = [sys.executable, "-c", _SCRIPT, str(tmp_path / out), str(tmp_path / "c.sqlite")]
        done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout.strip().splitlines()[-1])

    assert run("cold") == {"profanity_check": True, "vaderSentiment.vaderSentiment": True}
    assert run("warm") == {"profanity_check": False, "vaderSentiment.vaderSentiment": False}
    cold, warm = _results(tmp_path / "cold"), _results(tmp_path / "warm")
    assert warm["manifest"]["cache"]["scores"] == {"cached": cold["manifest"]["cache"]["scores"]["computed"],
                                                   "computed": 0}
    assert _verdict(tmp_path / "warm") == _verdict(tmp_path / "cold")
    assert _outputs(tmp_path / "warm") == _outputs(tmp_path / "cold")


# -------------------------------------------------------------------------------------------------- Ray


@pytest.mark.slow
def test_ray_executor_scores_only_the_misses(ray_instance, tmp_path: Path) -> None:
    from auditkit.engine.ray_executor import RayExecutor

    def suite(threshold: float) -> Path:
        return write_suite(tmp_path, n=30, analyzers_=("toxicity", "energy"),
                           options={"toxicity": {"backend": "profanity-check", "threshold": threshold}})

    def run(out: str, threshold: float) -> tuple[Any, RayExecutor]:
        runner = RayExecutor(score_items_per_task=8)
        request = engine_request(model=f"raycount:{tmp_path}", out=tmp_path / out,
                                 suites=(str(suite(threshold)),), cache_path=tmp_path / "c.sqlite")
        return run_audit(request=request, executor=runner), runner

    first, ray_first = run("first", 0.5)
    assert ray_first.replicas["score"] >= 1
    assert _results(first.run_dir)["manifest"]["cache"]["scores"] == {"cached": 0, "computed": 60}
    again, ray_again = run("again", 0.5)
    assert "score" not in ray_again.replicas  # nothing to score: no scoring actor was started
    assert _results(again.run_dir)["manifest"]["cache"]["scores"] == {"cached": 60, "computed": 0}
    assert _verdict(again.run_dir) == _verdict(first.run_dir)
    changed, ray_changed = run("changed", 0.4)  # toxicity's options changed: only its scores, on Ray
    assert ray_changed.replicas["score"] >= 1
    assert _results(changed.run_dir)["manifest"]["cache"]["scores"] == {"cached": 30, "computed": 30}
