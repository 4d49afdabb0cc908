"""An LLM judge of regard through any adapter: a rubric file in, one parsed label out per output.

``--analyzer-arg bias.regard=judge:MODEL_SPEC`` selects it; ``MODEL_SPEC`` is any ``--model`` value
(``openai:gpt-4o-mini``, ``hf:DIR``, ``python:module:factory``, ``mock:constant``, ``smollm2``), with
adapter options from ``bias.regard_model_args`` (``KEY=VALUE`` list) and the rubric from
``bias.regard_rubric`` (default ``auditkit/data/regard/rubric.md``). The rubric holds ``{{ text }}`` where
the judged text goes (descriptor masked as XYZ); the judge decodes greedily.

The answer's label is the first of ``negative`` / ``neutral`` / ``positive`` it contains as a word
(case-insensitive). An answer with none, or a generation error, is a scorer *error* for that output —
never a neutral label — so it is left out of the measure and counted (bias metric ``scorer_errors``).
The judge's adapter identity and the rubric's sha256 are the scorer's identity, so they are in the
manifest and in the score cache key: labels are cached like any score and reused only for the same judge
and rubric.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from auditkit.analyzers.regard import RegardResult
from auditkit.errors import ConfigError

__all__ = ["DEFAULT_RUBRIC", "JudgeRegard", "parse_label"]

DEFAULT_RUBRIC = Path(__file__).resolve().parent.parent / "data" / "regard" / "rubric.md"
_PLACEHOLDER = "{{ text }}"
_LABEL = re.compile(r"\b(negative|neutral|positive)\b", flags=re.IGNORECASE)
_BATCH = 32


def parse_label(*, answer: str) -> str | None:
    """The first regard label named in a judge's answer, or ``None``."""
    found = _LABEL.search(answer or "")
    return found.group(1).lower() if found else None


class JudgeRegard:
    """Regard labels from a judge model behind an adapter."""

    def __init__(self, *, model: str, model_args: Sequence[str] = (), rubric: Any = None,
                 max_new_tokens: int = 8) -> None:
        from auditkit.adapters.base import parse_model_spec

        path = Path(str(rubric)).expanduser() if rubric else DEFAULT_RUBRIC
        if not path.is_file():
            raise ConfigError(f"bias option regard_rubric={str(path)!r}: no such file. Give a text file holding "
                              f"{_PLACEHOLDER} where the judged text goes.")
        self.rubric = path.read_text(encoding="utf-8")
        if _PLACEHOLDER not in self.rubric:
            raise ConfigError(f"The regard rubric {path} has no {_PLACEHOLDER} placeholder: the judged text "
                              "would never reach the judge. Add it where the text belongs.")
        self.rubric_path = path
        self.spec = parse_model_spec(spec=model, model_args=list(model_args))
        self.max_new_tokens = max_new_tokens
        self._adapter: Any = None

    def _judge(self) -> Any:
        if self._adapter is None:
            from auditkit.adapters.base import build_adapter

            self._adapter = build_adapter(spec=self.spec)
        return self._adapter

    @property
    def identity(self) -> Mapping[str, Any]:
        adapter = self._judge()
        ident: Any = getattr(adapter, "identity", None)
        return {
            "scorer": "llm-judge",
            "judge": (ident.to_dict() if ident is not None and hasattr(ident, "to_dict")
                      else {"spec": f"{self.spec.scheme}:{self.spec.target}"}),
            "rubric": str(self.rubric_path),
            "rubric_sha256": "sha256:" + hashlib.sha256(self.rubric.encode("utf-8")).hexdigest(),
            "max_new_tokens": self.max_new_tokens,
        }

    def score(self, *, texts: Sequence[str]) -> list[RegardResult]:
        from auditkit.records import GenerationConfig, Message, Prompt

        adapter = self._judge()
        config = GenerationConfig(max_new_tokens=self.max_new_tokens, temperature=0.0)
        out: list[RegardResult] = []
        for start in range(0, len(texts), _BATCH):
            chunk = texts[start:start + _BATCH]
            prompts = [
                Prompt(id="regard-judge-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16],
                       suite="regard-judge", template="rubric",
                       messages=(Message(role="user", content=self.rubric.replace(_PLACEHOLDER, text)),))
                for text in chunk
            ]
            try:
                generations = adapter.generate(prompts=prompts, config=config)
            except Exception as error:  # the whole batch failed: each output is an error, never neutral
                out.extend(RegardResult(label=None, source="judge", error=f"judge failed: {type(error).__name__}: "
                                        f"{error}") for _ in chunk)
                continue
            for generation in generations:
                out.append(self._result(generation))
        return out

    @staticmethod
    def _result(generation: Any) -> RegardResult:
        if not generation.ok:
            return RegardResult(label=None, source="judge", error=f"judge failed: {generation.error}")
        answer = (generation.output or "").strip()
        label = parse_label(answer=answer)
        if label is None:
            return RegardResult(label=None, source="judge",
                                error=f"judge answer names no label (negative/neutral/positive): {answer[:80]!r}")
        return RegardResult(label=label, p_negative=1.0 if label == "negative" else 0.0, source="judge",
                            details={"answer": answer[:200]})
