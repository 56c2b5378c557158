"""Own tasks with many labels and prompts longer than student.max_length (the way a new user tries it).

Every example must keep its whole target; training must really train (non-zero loss, updates
counted); labels are inferred from the train file; the precision of what the optimizer updates."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from student_fixtures import trainer_cfg

from llm2llm.config import LoraConfig, StudentConfig, TaskConfig
from llm2llm.example import Example
from llm2llm.tasks import build_task

INTENTS = [f"{verb}_{noun}" for verb in ("check", "change", "cancel", "report", "request", "transfer", "verify")
           for noun in ("card_payment", "exchange_rate", "pending_transfer", "top_up_limit", "identity_document",
                        "virtual_card", "refund_status", "cash_withdrawal", "direct_debit", "account_pin", "fee")]


def many_label_task(tmp: Path, list_labels: str = "true", bom: bool = False, n: int = 12):
    """A 77-intent JSONL task written here (like banking77); labels are not given: they are inferred."""
    rng = random.Random(0)
    rows = [{"text": f"customer message {i}: please help me {rng.choice(INTENTS).replace('_', ' ')} today",
             "label": INTENTS[i % len(INTENTS)]} for i in range(len(INTENTS))]
    for name in ("train.jsonl", "test.jsonl"):
        text = "".join(json.dumps(r) + "\n" for r in rows[:n if name == "test.jsonl" else None])
        (tmp / name).write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())
    cfg = OmegaConf.structured(TaskConfig(name="jsonl", train_file=str(tmp / "train.jsonl"),
                                          test_file=str(tmp / "test.jsonl"), list_labels=list_labels))
    return build_task(cfg)


def test_labels_are_inferred_sorted_from_a_train_file_with_a_bom(tmp_path, capsys):
    task = many_label_task(tmp_path, bom=True)
    assert len(INTENTS) == 77 and task.labels == tuple(sorted(INTENTS))
    assert "77 labels inferred from" in capsys.readouterr().out
    assert task.load("train")[0].text.startswith("customer message 0")  # the BOM is not part of the text


def test_many_labels_are_left_out_of_the_prompt_by_default(tmp_path):
    listed, auto = many_label_task(tmp_path, "true"), many_label_task(tmp_path, "auto")
    ex = listed.load("train")[0]
    assert INTENTS[5] in listed.prompt(ex) and INTENTS[5] not in auto.prompt(ex)
    assert auto.prompt(ex).endswith(ex.text)


@pytest.mark.slow
def test_prompts_longer_than_max_length_still_train_on_every_target(tmp_path, tiny_llama):
    from llm2llm.student import Student
    from llm2llm.student.data import IGNORE_INDEX, encode, prompt_ids, target_ids

    task = many_label_task(tmp_path, "true")  # the whole label list in every prompt: ~600 tokens
    student = Student(StudentConfig(name="t", model=tiny_llama, dtype="float32", max_length=256,
                                    lora=LoraConfig(enabled=False)),
                      trainer_cfg(epochs=2, per_device_batch_size=4, warmup_ratio=0.1), task, str(tmp_path), seed=0)
    examples = task.load("train")[:16]
    assert all(len(prompt_ids(student.tokenizer, task, e)) > 256 for e in examples)
    for e in examples:
        enc = encode(student.tokenizer, task, e, 256)
        t = target_ids(student.tokenizer, task.target(e))
        assert len(enc["input_ids"]) <= 256 and enc["labels"][-len(t):] == t  # the target, end-of-turn included
        assert student.tokenizer.decode(t).endswith(e.answer + "<|im_end|>")
        assert all(l == IGNORE_INDEX for l in enc["labels"][:-len(t)])  # and nothing but the target is learned
    ckpt = student.train(examples, tmp_path / "ckpt")
    summary = student.training_summary(ckpt)
    # 16 examples, batch 4, 2 epochs = 8 updates; 10 % warmup -> ceil(0.8) = 1 step ramps up from lr 0
    assert summary["optimizer_updates"] == 8 and summary["updates_at_lr0"] == 1 and summary["real_updates"] == 7
    assert summary["epochs"] == 2.0 and summary["examples"] == 16 and summary["target_tokens"] > 16
    assert summary["train_loss"] > 1.0 and summary["last_logged_loss"] > 0 and summary["mean_grad_norm"] > 0
    log = json.loads((Path(ckpt) / "train_log.json").read_text())
    assert any(r.get("grad_norm", 0) > 0 for r in log)


@pytest.mark.slow
def test_training_generation_and_scoring_see_the_same_cut_prompt(tmp_path, tiny_llama, monkeypatch):
    """A prompt longer than max_length is cut at the same token wherever the model reads it."""
    from llm2llm.models import load_model, load_tokenizer
    from llm2llm.student import predict
    from llm2llm.student.data import encode, fit_prompt, prompt_ids, target_ids

    task = many_label_task(tmp_path, "true")
    model, tok = load_model(tiny_llama, "float32"), load_tokenizer(tiny_llama)
    examples = task.load("test")[:4]
    seen: list[list[int]] = []

    def spy(ids, budget):  # the real cut, recorded
        out = fit_prompt(ids, budget)
        seen.append(out)
        return out

    monkeypatch.setattr(predict, "fit_prompt", spy)
    predict.generate(model, tok, task, examples, batch_size=4, max_new_tokens=task.cfg.max_new_tokens, max_length=256)
    predict.score_labels(model, tok, task, examples, batch_size=4, max_length=256)
    trained = []
    for e in examples:
        enc, n_target = encode(tok, task, e, 256), len(target_ids(tok, task.target(e)))
        assert n_target <= task.cfg.max_new_tokens
        trained.append(enc["input_ids"][:-n_target])
    assert all(len(prompt_ids(tok, task, e)) > len(p) for e, p in zip(examples, trained))  # really cut
    assert seen == trained + trained  # generation, then label scoring: token for token what training saw


@pytest.mark.slow
def test_a_run_smaller_than_one_batch_warns_that_it_barely_trained(tmp_path, tiny_llama, caplog):
    from llm2llm.student import Student

    task = many_label_task(tmp_path, "false")
    student = Student(StudentConfig(name="t", model=tiny_llama, dtype="float32", max_length=256,
                                    lora=LoraConfig(enabled=True, r=4, alpha=8, target_modules=["q_proj"])),
                      trainer_cfg(epochs=1, per_device_batch_size=8, warmup_ratio=0.03), task, str(tmp_path), seed=0)
    with caplog.at_level("WARNING", logger="llm2llm.student"):
        ckpt = student.train(task.load("train")[:6], tmp_path / "ckpt")
    s = student.training_summary(ckpt)
    assert (s["optimizer_updates"], s["updates_at_lr0"], s["real_updates"]) == (1, 1, 0)
    assert "only 0 optimizer update(s) with lr > 0 (1 in all, 1 at lr 0" in caplog.text


@pytest.mark.slow
@pytest.mark.parametrize("lora", [False, True])
def test_bf16_training_keeps_fp32_master_weights_and_optimizer_state(tmp_path, tiny_llama, lora):
    """student.dtype=bfloat16 (as llama2-7b) with bf16 training: the optimizer must update fp32 weights
    (full fine-tune: the whole model; LoRA: the adapters over a frozen bf16 base), with bf16 autocast."""
    import torch
    from safetensors import safe_open

    from llm2llm.student import Student

    task = many_label_task(tmp_path, "false")
    student = Student(StudentConfig(name="t", model=tiny_llama, dtype="bfloat16", max_length=128,
                                    lora=LoraConfig(enabled=lora, r=4, alpha=8, target_modules=["q_proj", "v_proj"])),
                      trainer_cfg(epochs=1, per_device_batch_size=4, bf16="true"), task, str(tmp_path), seed=0)
    ckpt = student.train(task.load("train")[:8], tmp_path / "ckpt")
    s = student.training_summary(ckpt)
    assert s["bf16_autocast"] is True and s["optimizer_updates"] == 2
    assert s["trainable_dtypes"] == ["torch.float32"] and s["optimizer_state_dtypes"] == ["torch.float32"]
    weights = next(Path(ckpt).glob("*.safetensors"))
    with safe_open(str(weights), "pt") as f:  # saved for inference in student.dtype (full), adapters as trained
        saved = {f.get_tensor(k).dtype for k in f.keys()}
    assert saved == ({torch.float32} if lora else {torch.bfloat16})
    assert next(student._model(ckpt).parameters()).dtype == torch.bfloat16  # evaluation loads student.dtype
