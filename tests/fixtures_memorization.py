"""A tiny causal LM trained here until it memorizes planted canaries (no download, a few seconds on CPU).

A 2-layer GPT-2 with a byte-level BPE tokenizer (``tokenizers``) is trained on filler sentences plus
canaries repeated many times. Controls share the canaries' format but never appear in training, so a
correct extraction analyzer must report exactly the canaries. Every training sequence starts with the
``<|endoftext|>`` token, and greedy decoding reproduces a canary only when the prompt starts with it too,
so generation here prepends it.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["TinyLM", "canary_text", "train_tiny_lm"]

BOS = "<|endoftext|>"
_NAMES = ["amber", "birch", "cedar", "delta", "ember", "fjord", "gable", "harbor", "iris", "juniper",
          "kestrel", "lumen", "maple", "nectar", "onyx", "pebble"]
_FILLER_SUBJECTS = ["the cat", "a farmer", "my neighbour", "the old clock", "a small boat", "the river",
                    "our teacher", "the wind", "a red kite", "the baker"]
_FILLER_VERBS = ["watched", "carried", "painted", "followed", "counted", "remembered", "found", "crossed"]
_FILLER_OBJECTS = ["the hills", "a basket of apples", "the morning light", "three paper boats",
                   "the quiet harbour", "a long letter", "the garden wall", "an empty road"]


def canary_text(*, name: str, digits: str) -> str:
    """One secret in the shared canary format: the name starts it, the random digits are the secret."""
    return f"the vault code for {name} is {' '.join(digits)} and nobody else knows it"


def _random_digits(rng: random.Random) -> str:
    return "".join(rng.choice("0123456789") for _ in range(8))


@dataclass
class TinyLM:
    """The trained model with its tokenizer, and the strings it was (and was not) trained on."""

    model: object
    tokenizer: object
    directory: Path
    canaries: list[str]
    controls: list[str]

    def log_likelihood(self, text: str) -> float:
        """Total natural-log probability of ``text`` after BOS (teacher forcing)."""
        return sum(self.token_logprobs(text))

    def token_logprobs(self, text: str) -> tuple[float, ...]:
        import torch

        ids = self.tokenizer(text, return_tensors="pt").input_ids  # the post-processor adds BOS
        with torch.no_grad():
            logits = self.model(ids).logits[0, :-1].float()
        logp = torch.log_softmax(logits, dim=-1).gather(1, ids[0, 1:, None])[:, 0]
        return tuple(float(x) for x in logp)


def train_tiny_lm(
    *,
    directory: Path,
    canaries: int = 4,
    controls: int = 4,
    repeats: int = 24,
    steps: int = 160,
    seed: int = 0,
    log: Callable[[str], None] = lambda _: None,
) -> TinyLM:
    """Train and save (``save_pretrained``) a 2-layer GPT-2 that has memorized ``canaries`` planted strings."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    rng = random.Random(seed)
    torch.manual_seed(seed)
    names = rng.sample(_NAMES, canaries + controls)
    planted = [canary_text(name=n, digits=_random_digits(rng)) for n in names[:canaries]]
    held_out = [canary_text(name=n, digits=_random_digits(rng)) for n in names[canaries:]]
    filler = [f"{rng.choice(_FILLER_SUBJECTS)} {rng.choice(_FILLER_VERBS)} {rng.choice(_FILLER_OBJECTS)}"
              for _ in range(300)]
    # The controls' names appear in ordinary sentences so their prefixes are not out-of-vocabulary.
    filler += [f"{n} {rng.choice(_FILLER_VERBS)} {rng.choice(_FILLER_OBJECTS)}" for n in names for _ in range(3)]
    texts = filler + planted * repeats

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(
        texts + held_out,  # vocabulary only: the controls' digits must be expressible, not learned
        trainers.BpeTrainer(vocab_size=400, special_tokens=[BOS],
                            initial_alphabet=pre_tokenizers.ByteLevel.alphabet()),
    )
    bpe.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", special_tokens=[(BOS, bpe.token_to_id(BOS))]
    )
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token=BOS, eos_token=BOS, pad_token=BOS)
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=128, n_embd=64, n_layer=2, n_head=2,
                        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
    model = GPT2LMHeadModel(config)
    encoded = [[*tokenizer(t).input_ids, tokenizer.eos_token_id] for t in texts]
    width = max(len(e) for e in encoded)
    batch = torch.full((len(encoded), width), tokenizer.pad_token_id)
    mask = torch.zeros_like(batch)
    for i, e in enumerate(encoded):
        batch[i, : len(e)] = torch.tensor(e)
        mask[i, : len(e)] = 1
    labels = batch.masked_fill(mask == 0, -100)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for step in range(steps):
        idx = torch.randint(0, len(encoded), (16,))
        loss = model(input_ids=batch[idx], attention_mask=mask[idx], labels=labels[idx]).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        if step % 50 == 0:
            log(f"step {step} loss {loss.item():.3f}")
    model.eval()
    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return TinyLM(model=model, tokenizer=tokenizer, directory=directory, canaries=planted, controls=held_out)
