"""``corpus:FILE`` (what ``--corpus FILE`` names): memorization prompts from a reference corpus.

Each passage is split into a prompt prefix and the reference continuation by the memorization
analyzer's own options (``prefix_words``, ``suffix_words``...), so the splitting lives with the analyzer
(``auditkit.analyzers.memorization.corpus_prompts``) and this source reads the options the suites and
``--analyzer-arg memorization.KEY=VALUE`` set.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from auditkit.sources.base import LoadedSource, file_hash, prompt_sources, require_target

__all__ = ["CorpusSource"]


@prompt_sources.register("corpus")
class CorpusSource:
    """One greedy memorization prompt per passage (plus canary candidates for lines with a ``secret``)."""

    analyzers: tuple[str, ...] | None = ("memorization",)
    needs_loglik = False
    reads_analyzer_options = True

    def __init__(self, *, target: str) -> None:
        self.path = require_target(scheme="corpus", target=target, example="passages.jsonl")

    def __repr__(self) -> str:
        return f"CorpusSource(path={str(self.path)!r})"

    def load(self, *, samples: int | None, analyzer_options: Mapping[str, Mapping[str, Any]]) -> LoadedSource:
        # Imported here: the analyzer module pulls in its scoring helpers, which listing sources never needs.
        from auditkit.analyzers.memorization import corpus_prompts

        prompts = corpus_prompts(path=self.path, options=analyzer_options.get("memorization", {}))
        return LoadedSource(
            id=",".join(sorted({prompt.suite for prompt in prompts})) or "corpus",
            version=None,
            hash=file_hash(path=self.path),
            source=str(self.path),
            prompts=tuple(prompts),
        )
