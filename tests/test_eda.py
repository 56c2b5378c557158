"""EDA on real SST-2 / TREC / GSM8K / CaseHOLD examples: labels and numbers kept, seeded, alpha honoured."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from baseline_fixtures import load, numbers
from baselines import eda
from baselines.eda import (eda_augment, eda_text, get_synonyms, n_changes, random_deletion, random_insertion,
                           random_swap, synonym_replacement, synonym_replacement_detail, tokenize)
from llm2llm.errors import ConfigError


@pytest.fixture(scope="module")
def real(data_dir):
    out = {}
    for name, n in (("sst2", 40), ("trec", 40), ("gsm8k", 40), ("casehold", 6)):
        out[name] = load(name, data_dir, n=n)
    return out


def test_wordnet_is_read_offline():
    assert "glad" in get_synonyms("happy")
    assert get_synonyms("walked")  # morphology: inflected forms find their lemma
    assert get_synonyms("qwzxv") == ()
    assert "two" not in get_synonyms("pair")  # number words never come in as synonyms
    assert get_synonyms("a") == ()


def test_missing_wordnet_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv(eda.WORDNET_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(ConfigError, match=r"LLM2LLM_WORDNET_DIR=.*not a WordNet 3.0 database folder"):
        eda.find_wordnet_dir()
    monkeypatch.delenv(eda.WORDNET_ENV)
    monkeypatch.setattr(eda, "DEFAULT_WORDNET_DIRS", (str(tmp_path / "nowhere"),))
    monkeypatch.setenv("HOME", str(tmp_path))
    if not any(p.is_dir() for p in eda.Path("/usr/share/nltk_data").glob("corpora/wordnet")):
        with pytest.raises(ConfigError, match="apt-get install wordnet-base"):
            eda.find_wordnet_dir()


@pytest.mark.parametrize("name", ["sst2", "trec", "gsm8k", "casehold"])
def test_outputs_keep_label_answer_choices_and_provenance(real, name):
    task, seeds = real[name]
    aug = eda_augment(seeds, num_aug=4, seed=0)
    assert len(aug) == 4 * len(seeds)
    by_id = {s.id: s for s in seeds}
    per_parent = Counter(a.parent_id for a in aug)
    assert set(per_parent.values()) == {4}
    assert len({a.id for a in aug}) == len(aug)
    for a in aug:
        p = by_id[a.parent_id]
        assert a.origin == "eda" and a.iteration == 0 and a.teacher_model is None
        assert a.answer == p.answer and a.choices == p.choices
        assert task.gold(a) == task.gold(p)
        assert a.meta["eda_op"] in ("sr", "ri", "rs", "rd")
        assert a.id.startswith(p.id + "-eda-")
        assert a.text.strip()
        task.check_example(a, where=a.id)  # still a valid example of the task
    changed = sum(a.text.split() != by_id[a.parent_id].text.split() for a in aug)
    assert changed >= 0.8 * len(aug), f"only {changed}/{len(aug)} augmentations changed the text"


def test_gsm8k_numbers_survive_every_operation(real):
    task, seeds = real["gsm8k"]
    aug = eda_augment(seeds, num_aug=8, alpha_sr=0.3, alpha_ri=0.3, alpha_rs=0.3, alpha_rd=0.3, seed=3)
    by_id = {s.id: s for s in seeds}
    for a in aug:
        p = by_id[a.parent_id]
        assert numbers(a.text) == numbers(p.text), (a.meta["eda_op"], p.text, a.text)
        # every token containing a digit is still there, character for character (RD may only glue
        # a deleted word's trailing punctuation onto it)
        digit_tokens = [t for t in p.text.split() if any(c.isdigit() for c in t)]
        out_tokens = a.text.split()
        for t in digit_tokens:
            assert any(o == t or o.startswith(t) for o in out_tokens), (t, a.text)
        assert a.answer == p.answer
    ops = Counter(a.meta["eda_op"] for a in aug)
    assert set(ops) == {"sr", "ri", "rs", "rd"}


def test_casehold_keeps_the_holding_placeholder(real):
    _, seeds = real["casehold"]
    for a in eda_augment(seeds, num_aug=4, alpha_sr=0.3, alpha_ri=0.3, alpha_rs=0.3, alpha_rd=0.3, seed=1):
        parent = next(s for s in seeds if s.id == a.parent_id)
        assert a.text.count("<HOLDING>") == parent.text.count("<HOLDING>") >= 1


def test_deterministic_and_independent_of_order(real):
    _, seeds = real["trec"]
    a = eda_augment(seeds, num_aug=3, seed=7)
    b = eda_augment(seeds, num_aug=3, seed=7)
    c = eda_augment(list(reversed(seeds)), num_aug=3, seed=7)
    assert [(e.id, e.text) for e in a] == [(e.id, e.text) for e in b]
    assert {e.id: e.text for e in a} == {e.id: e.text for e in c}
    # and independent of which other examples are in the batch
    assert {e.id: e.text for e in eda_augment(seeds[:5], num_aug=3, seed=7)} == {e.id: e.text for e in a[:15]}


def test_different_seeds_differ(real):
    _, seeds = real["sst2"]
    a = {e.id: e.text for e in eda_augment(seeds, num_aug=4, seed=0)}
    b = {e.id: e.text for e in eda_augment(seeds, num_aug=4, seed=1)}
    assert sum(a[k] != b[k] for k in a) >= 0.5 * len(a)


def test_num_aug_per_example_and_zero(real):
    _, seeds = real["sst2"]
    counts = [i % 4 for i in range(len(seeds))]
    aug = eda_augment(seeds, num_aug=counts, seed=0)
    assert len(aug) == sum(counts)
    got = Counter(a.parent_id for a in aug)
    for s, c in zip(seeds, counts):
        assert got.get(s.id, 0) == c
    assert eda_augment(seeds, num_aug=0) == []
    for n in (1, 2, 5, 9, 16):
        assert len(eda_text("a fairly long sentence about the good old film", n, rng=random.Random(0))) == n
    with pytest.raises(ValueError):
        eda_augment(seeds, num_aug=[1, 2])
    with pytest.raises(ConfigError, match="every alpha"):
        eda_augment(seeds, num_aug=1, alpha_sr=0, alpha_ri=0, alpha_rs=0, alpha_rd=0)


def test_only_enabled_operations_run(real):
    _, seeds = real["trec"]
    aug = eda_augment(seeds[:10], num_aug=4, alpha_sr=0.0, alpha_ri=0.0, alpha_rs=0.2, alpha_rd=0.0)
    assert {a.meta["eda_op"] for a in aug} == {"rs"}


# --------------------------------------------------------------------- alpha per operation

def _candidates_with_synonyms(text: str) -> set[str]:
    return {t.core.lower() for t in tokenize(text)
            if not t.protected and t.core.lower() not in eda.STOP_WORDS and get_synonyms(t.core.lower())}


@pytest.mark.parametrize("alpha", [0.1, 0.3, 0.5])
def test_synonym_replacement_changes_max1_int_alpha_n_words(real, alpha):
    checked = 0
    for s in real["sst2"][1] + real["trec"][1] + real["gsm8k"][1]:
        n = n_changes(alpha, len(s.text.split()))
        available = _candidates_with_synonyms(s.text)
        pieces, replaced = synonym_replacement_detail(s.text, n, random.Random(s.id))
        assert len(replaced) == min(n, len(available)), (s.text, replaced)
        # exactly the occurrences of the replaced words changed, nothing else
        for tok, piece in zip(tokenize(s.text), pieces):
            assert (piece != tok.raw) == (tok.core.lower() in replaced and not tok.protected), (tok.raw, piece)
        assert synonym_replacement(s.text, n, random.Random(s.id)) == " ".join(pieces)
        checked += len(available) >= n
    assert checked >= 30


def test_random_insertion_adds_n_synonyms(real):
    _, seeds = real["trec"]
    for s in seeds:
        n = n_changes(0.3, len(s.text.split()))
        out = random_insertion(s.text, n, random.Random(1))
        if not any(get_synonyms(t.core.lower()) for t in tokenize(s.text) if not t.protected):
            assert out == s.text
            continue
        added = len(out.split()) - len(s.text.split())
        assert n <= added <= 4 * n  # a synonym may have several words ("hide out")
        # the original words are all still there, in order
        it = iter(out.split())
        assert all(any(w == x for x in it) for w in s.text.split())


def test_random_swap_moves_at_most_2n_words_and_keeps_the_multiset(real):
    _, seeds = real["sst2"]
    for s in seeds:
        n = n_changes(0.2, len(s.text.split()))
        out = random_swap(s.text, n, random.Random(2))
        a, b = s.text.split(), out.split()
        assert len(a) == len(b)
        # the words are the same multiset (punctuation stays in its place, so compare word cores)
        assert Counter(t.core.lower() for t in tokenize(s.text)) == Counter(t.core.lower() for t in tokenize(out))
        assert sum(x != y for x, y in zip(a, b)) <= 2 * n


def test_random_deletion_rate_is_about_p(real):
    _, seeds = real["sst2"]
    total = deleted = 0
    for s in seeds:
        for r in range(10):
            out = random_deletion(s.text, 0.2, random.Random(f"{s.id}-{r}"))
            total += len([t for t in tokenize(s.text) if not t.protected])
            deleted += len(s.text.split()) - len(out.split())
        assert random_deletion(s.text, 0.0, random.Random(0)) == s.text
        assert len(random_deletion(s.text, 1.0, random.Random(0)).split()) >= 1
    assert 0.14 <= deleted / total <= 0.26, deleted / total


def test_protected_tokens_are_never_touched():
    text = "Natalia sold 48 clips in April, and then she sold half as many clips in May."
    toks = {t.raw: t.protected for t in tokenize(text)}
    assert toks["Natalia"] and toks["48"] and toks["half"] and toks["April,"] and toks["May."]
    assert not toks["sold"] and not toks["clips"]
    sst = {t.raw: t.protected for t in tokenize("it 's not a film i do n't like , and i don't care")}
    assert sst["'s"] and sst["not"] and sst["n't"] and sst["don't"] and sst[","] and not sst["film"]
    rng = random.Random(0)
    for _ in range(50):
        out = random_deletion(text, 0.9, rng)
        for keep in ("Natalia", "48", "half", "April", "May"):
            assert keep in out
        out = random_swap(text, 5, rng)
        assert out.split()[0] == "Natalia" and "48" in out.split()


@pytest.mark.slow  # two more processes, each loading WordNet
def test_same_output_in_another_process_with_another_hash_seed(real, tmp_path):
    """No set-iteration order leaks into the output (the reference EDA depends on PYTHONHASHSEED)."""
    import json
    import os
    import subprocess
    import sys

    from baseline_fixtures import ROOT

    _, seeds = real["gsm8k"]
    code = (
        "import json, sys\n"
        "from llm2llm.example import Example\n"
        "from baselines.eda import eda_augment\n"
        "ex = [Example.from_dict(d) for d in json.load(open(sys.argv[1]))]\n"
        "print(json.dumps([e.text for e in eda_augment(ex, num_aug=4, seed=11)]))\n"
    )
    src = tmp_path / "seeds.json"
    src.write_text(json.dumps([s.to_dict() for s in seeds[:10]]))
    outs = []
    for hs in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hs, "PYTHONPATH": str(ROOT)}
        proc = subprocess.run([sys.executable, "-c", code, str(src)], env=env, capture_output=True, text=True,
                              cwd=ROOT, timeout=120)
        assert proc.returncode == 0, proc.stderr[-2000:]
        outs.append(json.loads(proc.stdout))
    assert outs[0] == outs[1] == [e.text for e in eda_augment(seeds[:10], num_aug=4, seed=11)]
