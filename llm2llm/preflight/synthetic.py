"""What the preflight measures on when there are no weights and no data: the student's architecture
with random weights, a one-word-one-token tokenizer, and synthetic examples of chosen lengths.

Speed and memory depend on the shapes (layers, widths, heads, vocabulary, sequence lengths), not on
the weights' values, so a model built from the student's config measures what the real one costs.
The tokenizer maps each whitespace-separated word ``w<i>`` to token i (plus a few special tokens):
an example of N words is N tokens, so the measured lengths are exactly the ones asked for.
"""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Any

from llm2llm.errors import ConfigError

SPECIALS = ("<unk>", "<s>", "</s>", "<pad>")
UNK, BOS, EOS, PAD = range(len(SPECIALS))

#: architectures of the students in conf/student/ (from each model's config.json on the hub), used when
#: the weights are not on this machine. Only what sets the compute and memory is kept.
KNOWN_ARCHITECTURES: dict[str, dict[str, Any]] = {
    "meta-llama/Llama-2-7b-hf": dict(model_type="llama", vocab_size=32000, hidden_size=4096, intermediate_size=11008,
                                     num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=32,
                                     max_position_embeddings=4096, rms_norm_eps=1e-5, tie_word_embeddings=False),
    "embedded:smollm2-135m-instruct": dict(model_type="llama", vocab_size=49152, hidden_size=576,
                                           intermediate_size=1536, num_hidden_layers=30, num_attention_heads=9,
                                           num_key_value_heads=3, max_position_embeddings=8192, rms_norm_eps=1e-5,
                                           tie_word_embeddings=True),
    "Qwen/Qwen2.5-0.5B-Instruct": dict(model_type="qwen2", vocab_size=151936, hidden_size=896,
                                       intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14,
                                       num_key_value_heads=2, max_position_embeddings=32768, rms_norm_eps=1e-6,
                                       tie_word_embeddings=True),
}


def student_config(model: str, cache_dir: str | None = None) -> tuple[Any, str]:
    """The student's architecture config and where it came from (its config.json on disk, or the table above)."""
    from transformers import AutoConfig

    from llm2llm.models import EMBEDDED_PREFIX

    candidates: list[str] = []
    if model.startswith(EMBEDDED_PREFIX) and cache_dir:
        candidates.append(str(Path(cache_dir).expanduser() / "models" / model[len(EMBEDDED_PREFIX):]))
    elif (Path(model).expanduser() / "config.json").is_file():
        candidates.append(str(Path(model).expanduser()))
    for path in candidates:
        if (Path(path) / "config.json").is_file():
            return AutoConfig.from_pretrained(path), f"{path}/config.json"
    if not model.startswith(EMBEDDED_PREFIX) and not Path(model).expanduser().exists():
        try:  # the hub cache of a machine that downloaded it, never the network
            return AutoConfig.from_pretrained(model, local_files_only=True), f"hub cache ({model})"
        except Exception:  # noqa: BLE001 - not cached here: fall back to the table
            pass
    if model not in KNOWN_ARCHITECTURES:
        raise ConfigError(f"no config.json for student.model={model!r} on this machine and no known architecture "
                          f"for it (known: {sorted(KNOWN_ARCHITECTURES)}); point student.model at a local model folder")
    kw = dict(KNOWN_ARCHITECTURES[model])
    return AutoConfig.for_model(kw.pop("model_type"), **kw), "llm2llm.preflight.synthetic.KNOWN_ARCHITECTURES"


def shaped(config: Any, *, layers: int | None = None, toy: bool = False) -> Any:
    """A copy of ``config`` with ``layers`` decoder layers, or (toy) a tiny model of the same family."""
    cfg = copy.deepcopy(config)
    if toy:
        kv_ratio = max(1, cfg.num_attention_heads // (getattr(cfg, "num_key_value_heads", None) or cfg.num_attention_heads))
        cfg.hidden_size, cfg.intermediate_size, cfg.num_attention_heads = 64, 128, 4
        cfg.num_key_value_heads = max(1, 4 // min(kv_ratio, 4))
        cfg.head_dim = 16
        cfg.vocab_size, cfg.max_position_embeddings = 512, 512
        cfg.num_hidden_layers = 2
    if layers is not None:
        cfg.num_hidden_layers = layers
    if hasattr(cfg, "layer_types") and cfg.layer_types is not None:  # per-layer lists follow the new depth
        cfg.layer_types = list(cfg.layer_types)[:1] * cfg.num_hidden_layers
    cfg.bos_token_id, cfg.eos_token_id, cfg.pad_token_id = BOS, EOS, PAD
    cfg.use_cache = True
    return cfg


def word_tokenizer(vocab_size: int) -> Any:
    """A fast tokenizer with ``vocab_size`` entries: the special tokens, then ``w0``, ``w1``, ... one token each."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    words = [f"w{i}" for i in range(vocab_size - len(SPECIALS))]
    vocab = {t: i for i, t in enumerate(list(SPECIALS) + words)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A $B", special_tokens=[("<s>", BOS)])
    tok.decoder = decoders.WordPiece(prefix="##")  # joins words with spaces
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", bos_token="<s>", eos_token="</s>",
                                   pad_token="<pad>")


def n_words(tokenizer: Any) -> int:
    return len(tokenizer) - len(SPECIALS)


def build_model(config: Any, dtype: Any, device: str) -> Any:
    """A randomly initialised causal LM of ``config`` built directly on ``device`` in ``dtype``."""
    import torch
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    finally:
        torch.set_default_dtype(previous)
    return model.eval()


def save_model_folder(config: Any, tokenizer: Any, path: Path, dtype: Any, device: str) -> Path:
    """A loadable model folder (random weights in ``dtype`` + the tokenizer), what training's from_pretrained reads."""
    import torch

    model = build_model(config, dtype, device)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    del model
    if torch.cuda.is_available():
        torch.cuda.empty_cache()  # training runs in another process (DeepSpeed): leave it the memory
    return path


def training_rows(n: int, length: int, target: int, words: int, seed: int = 0) -> list[dict[str, Any]]:
    """Pre-tokenised rows as Student.train writes them: ``length`` tokens, the last ``target`` of them labelled."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        ids = [BOS] + [len(SPECIALS) + rng.randrange(words) for _ in range(length - 2)] + [EOS]
        labels = [-100] * (length - target) + ids[length - target:]
        rows.append({"id": f"synthetic-{i}", "input_ids": ids, "labels": labels})
    return rows


def task_files(folder: Path, n: int, prompt_words: int, labels: list[str], words: int, seed: int = 0) -> tuple[Path, Path]:
    """train/test JSONL files of ``n`` rows each for ``task=jsonl``: ``prompt_words`` random words, a label each."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for split in ("train", "test"):
        path = folder / f"{split}.jsonl"
        with open(path, "w", encoding="utf-8") as f:
            for i in range(n):
                text = " ".join(f"w{rng.randrange(words)}" for _ in range(prompt_words))
                f.write(json.dumps({"text": text, "label": labels[i % len(labels)]}) + "\n")
        paths.append(path)
    return paths[0], paths[1]


def synthetic_task(folder: Path, n: int, prompt_words: int, max_new_tokens: int, words: int) -> Any:
    """The harness's own ``task=jsonl`` (classification) over synthetic files."""
    from llm2llm.config import TaskConfig
    from llm2llm.tasks import build_task

    labels = ["w1", "w2", "w3", "w4"]
    train, test = task_files(folder, n, prompt_words, labels, words)
    cfg = TaskConfig(name="jsonl", kind="classification", train_file=str(train), test_file=str(test), labels=labels,
                     max_new_tokens=max_new_tokens)
    return build_task(cfg)
