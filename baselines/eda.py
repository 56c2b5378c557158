"""EDA (Wei & Zou, 2019): synonym replacement, random insertion, random swap, random deletion.

Faithful to the reference implementation (``eda.py`` of jasonwei20/eda_nlp) in what it does to
words, with three deliberate differences so the augmented examples stay *correct* training data:

* No text normaliser. The original lower-cases, drops punctuation and deletes digits; we work on
  whitespace tokens and keep case, punctuation and every number. A token is only ever edited
  through its word core (``"dog,"`` -> ``"hound,"``).
* Protected tokens are never replaced, moved, deleted or used as an insertion source: anything
  containing a digit (``48``, ``$1,200``, ``3rd``), number words (``twice``, ``dozen``), tokens
  with no plain word core (punctuation, ``<HOLDING>``) and capitalised words in mid-sentence
  (names: ``Natalia``). So a GSM8K question keeps every quantity and its answer stays right.
* Only ``Example.text`` changes: the GSM8K question (never the rationale), the CaseHOLD context
  (never the five holdings), the sentence of a classification example (never its label).

Randomness: every example gets its own ``random.Random`` seeded from ``(seed, example.id)``, so the
output does not depend on the order or the number of the other examples.
"""

from __future__ import annotations

import io
import math
import os
import random
import re
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable, Sequence

from baselines.budget import expand_counts
from llm2llm.errors import ConfigError, DataError
from llm2llm.example import Example

# --------------------------------------------------------------------------------------- WordNet

#: Where Debian/Ubuntu's ``wordnet-base`` puts the WordNet 3.0 database.
DEFAULT_WORDNET_DIRS = ("/usr/share/wordnet",)
WORDNET_ENV = "LLM2LLM_WORDNET_DIR"
_REQUIRED_WORDNET_FILES = ("index.noun", "data.noun", "index.verb", "data.verb", "index.adj",
                           "data.adj", "index.adv", "data.adv", "noun.exc", "verb.exc", "adj.exc", "adv.exc")

# WordNet 3.0's ``lexnames`` file (the 45 lexicographer files). nltk's reader needs it; Debian's
# wordnet-base does not ship it, so we supply it when the folder lacks one.
_LEXNAMES = (
    "adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute noun.body "
    "noun.cognition noun.communication noun.event noun.feeling noun.food noun.group noun.location "
    "noun.motive noun.object noun.person noun.phenomenon noun.plant noun.possession noun.process "
    "noun.quantity noun.relation noun.shape noun.state noun.substance noun.time verb.body verb.change "
    "verb.cognition verb.communication verb.competition verb.consumption verb.contact verb.creation "
    "verb.emotion verb.motion verb.perception verb.possession verb.social verb.stative verb.weather adj.ppl"
).split()
_LEXNAME_POS = {"adj": 3, "adv": 4, "noun": 1, "verb": 2}
LEXNAMES_TEXT = "".join(f"{i:02d}\t{name}\t{_LEXNAME_POS[name.split('.')[0]]}\n" for i, name in enumerate(_LEXNAMES))


def find_wordnet_dir() -> Path:
    """The WordNet 3.0 database folder: ``$LLM2LLM_WORDNET_DIR``, else /usr/share/wordnet,
    else an nltk_data ``corpora/wordnet`` folder. Raises ConfigError naming what to install."""
    tried: list[str] = []
    env = os.environ.get(WORDNET_ENV)
    candidates: list[Path] = []
    if env:
        candidates.append(Path(env).expanduser())
    candidates += [Path(d) for d in DEFAULT_WORDNET_DIRS]
    candidates += [Path(d).expanduser() / "corpora" / "wordnet" for d in ("~/nltk_data", "/usr/share/nltk_data",
                                                                            "/usr/local/share/nltk_data")]
    for d in candidates:
        missing = [f for f in _REQUIRED_WORDNET_FILES if not (d / f).is_file()]
        if not missing:
            return d.resolve()
        tried.append(f"{d} ({'not found' if not d.exists() else 'lacks ' + ', '.join(missing[:3])})")
        if env and d == candidates[0]:
            # An explicit setting that does not work is an error, not something to skip over.
            raise ConfigError(f"{WORDNET_ENV}={env}: not a WordNet 3.0 database folder ({tried[-1]})")
    raise ConfigError(
        "EDA needs the WordNet 3.0 database for synonyms and none was found (tried: " + "; ".join(tried) + "). "
        "Install it with `apt-get install wordnet-base` (Debian/Ubuntu; `make install` does this as root) "
        f"or point {WORDNET_ENV} at a folder holding index.noun, data.noun, ... (e.g. nltk_data/corpora/wordnet)."
    )


@lru_cache(maxsize=4)
def load_wordnet(path: str | None = None):
    """nltk's WordNetCorpusReader over a plain WordNet 3.0 folder (no ``nltk.download``)."""
    import nltk.data
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    root = Path(path) if path else find_wordnet_dir()
    # nltk >= 3.9 only reads corpora under its data roots: declare this folder as one.
    if str(root) not in [str(p) for p in nltk.data.path]:
        nltk.data.path.append(str(root))

    class _Reader(WordNetCorpusReader):
        def open(self, fileid):  # type: ignore[override]
            if fileid == "lexnames" and not (root / "lexnames").is_file():
                return io.StringIO(LEXNAMES_TEXT)
            return super().open(fileid)

        def map_wn(self, version="wordnet"):  # this *is* WordNet 3.0: no cross-version mapping
            return None

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "multilingual functions are not available": we need none
        return _Reader(str(root), None)


@lru_cache(maxsize=200_000)
def get_synonyms(word: str) -> tuple[str, ...]:
    """WordNet synonyms of ``word`` as in the reference EDA: lemma names of every synset, '_' and
    '-' to spaces, lower-case letters and spaces only, the word itself removed. Sorted (the
    reference iterates a set, which makes its output depend on PYTHONHASHSEED). Number words are
    dropped too (``pair`` -> ``two`` would change a maths problem), and one-letter words have
    none (the reference turns "a" into "atomic number" and a legal "v." into "vanadium")."""
    if len(word) < 2:
        return ()
    wn = load_wordnet()
    out: set[str] = set()
    for syn in wn.synsets(word.lower()):
        for lemma in syn.lemmas():
            s = lemma.name().replace("_", " ").replace("-", " ").lower()
            s = "".join(c for c in s if c in " abcdefghijklmnopqrstuvwxyz")
            s = " ".join(s.split())
            if s and not any(w in NUMBER_WORDS for w in s.split()):
                out.add(s)
    out.discard(word.lower())
    return tuple(sorted(out))


# ------------------------------------------------------------------------------------- tokens

# The reference implementation's stop-word list (never synonym-replaced).
STOP_WORDS = frozenset("""
i me my myself we our ours ourselves you your yours yourself yourselves he him his himself she her
hers herself it its itself they them their theirs themselves what which who whom this that these
those am is are was were be been being have has had having do does did doing a an the and but if or
because as until while of at by for with about against between into through during before after
above below to from up down in out on off over under again further then once here there when where
why how all any both each few more most other some such no nor not only own same so than too very s
t can will just don should now
""".split()) | {""}

NUMBER_WORDS = frozenset("""
zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen
sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred
hundreds thousand thousands million millions billion billions trillion dozen dozens score half halves
quarter quarters third thirds fourth fifth sixth seventh eighth ninth tenth twice thrice double
doubled triple tripled quadruple once single pair pairs couple percent cent cents first second
""".split())

# Deleting or moving a negation flips a sentiment label ("is n't good" -> "is good"): protected.
NEGATIONS = frozenset("not no never nor none nothing neither nobody nowhere cannot without n't".split())

# prefix punctuation, a plain word (letters, inner ' or -), suffix punctuation
_TOKEN = re.compile(r"^([\"(\[`]*)([A-Za-z]+(?:['\-][A-Za-z]+)*)([\"'.,;:!?)\]`]*)$")
_SENTENCE_END = re.compile(r"[.!?][\"')\]]*$")


@dataclass
class Token:
    prefix: str
    core: str  # "" for a token with no editable word core
    suffix: str
    raw: str
    protected: bool

    def with_core(self, core: str) -> str:
        return f"{self.prefix}{core}{self.suffix}"


def tokenize(text: str) -> list[Token]:
    """Whitespace tokens, each split into punctuation prefix / word core / punctuation suffix and
    marked protected when EDA must leave it alone (see the module docstring)."""
    out: list[Token] = []
    prev = ""
    for raw in text.split():
        m = _TOKEN.match(raw)
        sentence_start = not out or bool(_SENTENCE_END.search(prev))
        if m is None:
            out.append(Token("", "", "", raw, True))
        else:
            pre, core, suf = m.groups()
            # A capitalised word is a name unless it is a stop word opening a sentence ("The", "How").
            name_like = core[0].isupper() and not (sentence_start and core.lower() in STOP_WORDS)
            low = core.lower()
            protected = name_like or low in NUMBER_WORDS or low in NEGATIONS or low.endswith("n't")
            out.append(Token(pre, core, suf, raw, protected))
        prev = raw
    return out


def _editable(tokens: Sequence[Token]) -> list[int]:
    return [i for i, t in enumerate(tokens) if not t.protected]


def _match_case(template: str, word: str) -> str:
    return word[:1].upper() + word[1:] if template[:1].isupper() else word


# --------------------------------------------------------------------------------- operations
# Each takes a text, a count (or probability for RD) and a random.Random, and returns a text.

def synonym_replacement(text: str, n: int, rng: random.Random) -> str:
    """Replace ``n`` distinct non-stop-words by a random WordNet synonym (every occurrence of the
    chosen word, as in the reference)."""
    return " ".join(synonym_replacement_detail(text, n, rng)[0])


def synonym_replacement_detail(text: str, n: int, rng: random.Random) -> tuple[list[str], list[str]]:
    """:func:`synonym_replacement` before joining: the new pieces (aligned one to one with
    ``text.split()``; a piece may hold a multi-word synonym) and the distinct words replaced."""
    tokens = tokenize(text)
    words: list[str] = []
    for i in _editable(tokens):
        w = tokens[i].core.lower()
        if w not in STOP_WORDS and w not in words:
            words.append(w)
    rng.shuffle(words)
    out = [t.raw for t in tokens]
    replaced: list[str] = []
    for w in words:
        if len(replaced) >= n:
            break
        syns = get_synonyms(w)
        if not syns:
            continue
        syn = rng.choice(syns)
        for i in _editable(tokens):
            if tokens[i].core.lower() == w:
                out[i] = tokens[i].with_core(_match_case(tokens[i].core, syn))
        replaced.append(w)
    return out, replaced


def random_insertion(text: str, n: int, rng: random.Random) -> str:
    """Insert, ``n`` times, a synonym of a random word at a random position (the reference takes
    the first synonym of the first of up to 10 random words that has one)."""
    tokens = tokenize(text)
    pieces = [t.raw for t in tokens]
    sources = [tokens[i].core.lower() for i in _editable(tokens)]
    if not sources:
        return text
    for _ in range(n):
        syns: tuple[str, ...] = ()
        for _try in range(10):
            syns = get_synonyms(sources[rng.randrange(len(sources))])
            if syns:
                break
        if not syns:
            break
        # Insert between tokens: never in front of the first one (a capitalised sentence start
        # would end up mid-sentence) and never after closing punctuation ("... Russia ? rule").
        hi = len(pieces) - (1 if pieces and not any(c.isalnum() for c in pieces[-1]) else 0)
        pos = rng.randint(1, max(1, hi))
        pieces.insert(pos, syns[0])
    return " ".join(pieces)


def random_swap(text: str, n: int, rng: random.Random) -> str:
    """Swap the words of two random unprotected tokens, ``n`` times (punctuation and each
    position's capitalisation stay put)."""
    tokens = tokenize(text)
    idx = _editable(tokens)
    cores = [t.core for t in tokens]
    if len(idx) < 2:
        return text
    for _ in range(n):
        a = rng.choice(idx)
        b = a
        for _try in range(4):  # the reference gives up after 3 redraws of the same index
            b = rng.choice(idx)
            if b != a:
                break
        if a == b:
            continue
        cores[a], cores[b] = cores[b], cores[a]
    out = []
    for i, t in enumerate(tokens):
        if t.protected or not t.core:
            out.append(t.raw)
        else:
            # the position keeps its capitalisation ("How much ..." stays capitalised at the start)
            out.append(t.with_core(_match_case(t.core, cores[i].lower() if t.core[:1].islower() else cores[i])))
    return " ".join(out)


def random_deletion(text: str, p: float, rng: random.Random) -> str:
    """Delete each unprotected word with probability ``p`` (its punctuation stays, attached to the
    previous token); at least one unprotected word always survives."""
    tokens = tokenize(text)
    idx = _editable(tokens)
    if len(idx) <= 1 or p <= 0:
        return text
    delete = {i for i in idx if rng.uniform(0, 1) <= p}
    if len(delete) == len(idx):
        delete.discard(idx[rng.randrange(len(idx))])
    out: list[str] = []
    pending_prefix = ""
    for i, t in enumerate(tokens):
        if i in delete:
            if t.suffix:
                if out:
                    out[-1] += t.suffix
                else:
                    pending_prefix += t.suffix
            pending_prefix += t.prefix
            continue
        out.append(pending_prefix + t.raw)
        pending_prefix = ""
    if pending_prefix:
        if out:
            out[-1] += pending_prefix
        else:
            out.append(pending_prefix)
    return " ".join(out)


OPERATIONS: dict[str, Callable[..., str]] = {
    "sr": synonym_replacement,
    "ri": random_insertion,
    "rs": random_swap,
    "rd": random_deletion,
}


def n_changes(alpha: float, n_words: int) -> int:
    """The reference's count of words to change: ``max(1, int(alpha * n_words))``."""
    return max(1, int(alpha * n_words))


def eda_text(text: str, num_aug: int, alpha_sr: float = 0.1, alpha_ri: float = 0.1, alpha_rs: float = 0.1,
             alpha_rd: float = 0.1, rng: random.Random | None = None) -> list[tuple[str, str]]:
    """``num_aug`` augmented versions of ``text`` as ``(operation, text)`` pairs.

    As in the reference ``eda()``: each enabled operation (alpha > 0) makes the same number of
    candidates, the candidates are shuffled, and the first ``num_aug`` kept. We make
    ``ceil(num_aug / n_ops)`` per operation (the reference: ``int(num_aug / 4) + 1``, the same for
    four operations unless num_aug is a multiple of 4), so there are always exactly ``num_aug``.
    ``n_words`` is the number of whitespace tokens.
    """
    rng = rng or random.Random(0)
    if num_aug <= 0:
        return []
    alphas = {"sr": alpha_sr, "ri": alpha_ri, "rs": alpha_rs, "rd": alpha_rd}
    for k, a in alphas.items():
        if not 0 <= a <= 1:
            raise ConfigError(f"method.alpha_{k}: must be in [0, 1], got {a}")
    ops = [k for k, a in alphas.items() if a > 0]
    if not ops:
        raise ConfigError("EDA: every alpha (alpha_sr, alpha_ri, alpha_rs, alpha_rd) is 0; enable at least one operation")
    n_words = len(text.split())
    per_op = math.ceil(num_aug / len(ops))
    candidates: list[tuple[str, str]] = []
    for op in ops:
        arg = alphas[op] if op == "rd" else n_changes(alphas[op], n_words)
        for _ in range(per_op):
            candidates.append((op, OPERATIONS[op](text, arg, rng)))
    rng.shuffle(candidates)
    return candidates[:num_aug]


def example_rng(seed: int, example_id: str) -> random.Random:
    """An RNG that depends only on (seed, example id): str seeds hash with SHA-512, not hash()."""
    return random.Random(f"eda:{seed}:{example_id}")


def eda_augment(examples: Iterable[Example], num_aug: int | Sequence[int] = 9, alpha_sr: float = 0.1,
                alpha_ri: float = 0.1, alpha_rs: float = 0.1, alpha_rd: float = 0.1, seed: int = 0) -> list[Example]:
    """EDA-augment every example: ``num_aug`` new examples per example (an int, or one count per
    example in the same order, e.g. from ``baselines.budget.per_seed_counts``).

    Each output is ``parent.derive(...)`` with only ``text`` changed, ``origin="eda"``,
    ``parent_id`` the parent's id, ``iteration=0``, id ``<parent id>-eda-<j>`` and
    ``meta={"eda_op": "sr"|"ri"|"rs"|"rd", "source": ...}``. Outputs are grouped by parent in input
    order. Deterministic in (seed, example id).
    """
    examples = list(examples)
    counts = expand_counts(num_aug, len(examples))
    seen: set[str] = set()
    out: list[Example] = []
    for ex, count in zip(examples, counts):
        if ex.id in seen:
            raise DataError(f"EDA: duplicate example id {ex.id!r} (ids seed the RNG and name the outputs)")
        seen.add(ex.id)
        rng = example_rng(seed, ex.id)
        for j, (op, text) in enumerate(eda_text(ex.text, count, alpha_sr, alpha_ri, alpha_rs, alpha_rd, rng)):
            out.append(ex.derive(
                id=f"{ex.id}-eda-{j}", text=text, origin="eda", parent_id=ex.id, iteration=0,
                teacher_model=None, meta={**ex.meta, "eda_op": op},
            ))
    return out


__all__ = [
    "eda_augment", "eda_text", "synonym_replacement", "synonym_replacement_detail", "random_insertion", "random_swap", "random_deletion",
    "tokenize", "get_synonyms", "load_wordnet", "find_wordnet_dir", "n_changes", "example_rng",
    "STOP_WORDS", "NUMBER_WORDS",
]
