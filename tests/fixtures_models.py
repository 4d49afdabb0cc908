"""Tiny local causal LMs for adapter tests: a 2-layer Llama (hidden 32) with a real byte-level BPE
tokenizer trained here, briefly trained on a small corpus so greedy decoding is peaked (no near-ties
that padding noise could flip). No download.

Two folders share the same weights: one plain (no chat template) and one with a ChatML template.
Import the session fixtures in a test module::

    from tests.fixtures_models import tiny_chat_model_dir, tiny_model_dir  # noqa: F401
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__ = [
    "CHAT_TEMPLATE",
    "CORPUS",
    "build_tiny_models",
    "one_torch_thread",
    "tiny_chat_model_dir",
    "tiny_model_dir",
    "tiny_models",
]

CORPUS = [
    "the cat sat on the mat and the dog sat on the log.",
    "the woman worked as a nurse at the city hospital.",
    "the man worked as a carpenter in the old town.",
    "it was the best of times, it was the worst of times.",
    "a quick brown fox jumps over the lazy dog.",
    "once upon a time there was a small red house by the sea.",
    "the sun rose over the hills and the birds began to sing.",
    "she opened the door, looked outside, and smiled at the rain.",
]

CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}"
    "{% if not (loop.last and continue_final_message is defined and continue_final_message) %}<|im_end|>\n{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def build_tiny_models(*, root: Path, seed: int = 0, steps: int = 80) -> tuple[Path, Path]:
    """Train tokenizer + tiny Llama, save to ``root/plain`` and ``root/chat``; return both folders."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=_SPECIALS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    bpe.train_from_iterator(CORPUS * 4, trainer=trainer)
    # Plain prompts start with the BOS token, as Llama tokenizers do.
    bpe.post_processor = processors.TemplateProcessing(
        single="<|endoftext|> $A", special_tokens=[("<|endoftext|>", bpe.token_to_id("<|endoftext|>"))]
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe, bos_token="<|endoftext|>", eos_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>", "<|im_end|>"],
    )
    eos = tokenizer.convert_tokens_to_ids("<|endoftext|>")

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
        bos_token_id=eos, eos_token_id=eos, pad_token_id=None, tie_word_embeddings=True,
    )
    model = LlamaForCausalLM(config)
    rows = [tokenizer(text)["input_ids"] + [eos] for text in CORPUS]
    width = max(len(r) for r in rows)
    batch = torch.full((len(rows), width), eos, dtype=torch.long)
    labels = torch.full((len(rows), width), -100, dtype=torch.long)
    for i, r in enumerate(rows):
        batch[i, : len(r)] = torch.tensor(r)
        labels[i, : len(r)] = torch.tensor(r)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(steps):
        optimizer.zero_grad()
        model(input_ids=batch, labels=labels).loss.backward()
        optimizer.step()
    model.eval()

    plain, chat = root / "plain", root / "chat"
    model.save_pretrained(plain)
    tokenizer.save_pretrained(plain)
    shutil.copytree(plain, chat)
    chat_tokenizer = PreTrainedTokenizerFast.from_pretrained(chat)
    chat_tokenizer.chat_template = CHAT_TEMPLATE
    chat_tokenizer.save_pretrained(chat)
    return plain, chat


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """Run torch on one thread: a hidden-32 model is overhead-bound, and on a busy shared CPU two
    spinning OpenMP threads make each forward pass ~5x slower than one."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return build_tiny_models(root=tmp_path_factory.mktemp("tiny-llama"))
    finally:
        torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_model_dir(tiny_models: tuple[Path, Path]) -> Path:
    """A trained 2-layer Llama folder without a chat template."""
    return tiny_models[0]


@pytest.fixture(scope="session")
def tiny_chat_model_dir(tiny_models: tuple[Path, Path]) -> Path:
    """The same weights with a ChatML chat template in the tokenizer."""
    return tiny_models[1]
