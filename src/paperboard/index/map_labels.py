"""The labels of the map's regions: step 6 of ``compute_map`` (``index/map_compute.py``).

**Label.** Class-based TF-IDF over the unigrams and bigrams of title + abstract (at most
16,000 texts in all, drawn evenly from the clusters): English stop words and arXiv boilerplate
are removed (``BOILERPLATE``, which also holds the verbs and adjectives of every field:
"propose", "compatible", "optimize"; "models", "networks", "systems", "learning", "data",
"understanding" may still end a bigram: "diffusion models"), bigrams never span punctuation
or a removed word, and a term
scores by the share of the cluster's papers using it against both the mean share in the other
clusters and the upper quartile of all clusters' shares, so a term common to a whole family of
clusters ("language models") names none of them; phrases score above words, and a lone
adjective ("clinical", "anatomical") below a noun. Near-duplicates are skipped (plurals, words
of a picked phrase, an acronym of a picked phrase: "LLMs" after "large language models"), two
chained bigrams become the trigram when the texts use it ("3D Gaussian Splatting"), a term
cut out of a longer phrase grows into it when most of its uses do ("visual question" becomes
"visual question answering", "LiDAR point" "LiDAR point clouds"), and terms
are written as the papers write them ("LLMs", "3D", "Whisper"). The label is the 2 best terms
(3 when short); no two labels are the same, a term leads at most two labels and otherwise
appears in one only.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["BOILERPLATE", "HEADS", "cluster_terms"]

# Words of arXiv abstracts that say nothing about the topic.
BOILERPLATE = frozenset(
    [
        "paper",
        "papers",
        "propose",
        "proposed",
        "proposes",
        "proposing",
        "method",
        "methods",
        "methodology",
        "result",
        "results",
        "approach",
        "approaches",
        "model",
        "models",
        "modeling",
        "modelling",
        "show",
        "shows",
        "shown",
        "showing",
        "based",
        "using",
        "use",
        "used",
        "uses",
        "novel",
        "new",
        "existing",
        "performance",
        "framework",
        "frameworks",
        "task",
        "tasks",
        "work",
        "works",
        "study",
        "studies",
        "demonstrate",
        "demonstrates",
        "demonstrated",
        "experiment",
        "experiments",
        "experimental",
        "state-of-the-art",
        "sota",
        "art",
        "achieve",
        "achieves",
        "achieved",
        "achieving",
        "significantly",
        "significant",
        "improve",
        "improves",
        "improved",
        "improving",
        "improvement",
        "improvements",
        "effective",
        "effectively",
        "effectiveness",
        "efficient",
        "efficiently",
        "introduce",
        "introduces",
        "introduced",
        "present",
        "presents",
        "presented",
        "address",
        "addresses",
        "problem",
        "problems",
        "challenge",
        "challenges",
        "challenging",
        "extensive",
        "approach",
        "also",
        "however",
        "furthermore",
        "moreover",
        "additionally",
        "specifically",
        "particular",
        "particularly",
        "key",
        "various",
        "different",
        "recent",
        "recently",
        "well",
        "available",
        "code",
        "publicly",
        "https",
        "http",
        "github",
        "com",
        "www",
        "io",
        "org",
        "html",
        "project",
        "page",
        "et",
        "al",
        "arxiv",
        "first",
        "second",
        "third",
        "one",
        "two",
        "three",
        "four",
        "five",
        "via",
        "within",
        "without",
        "across",
        "may",
        "can",
        "could",
        "would",
        "also",
        "including",
        "include",
        "includes",
        "including",
        "enable",
        "enables",
        "enabling",
        "leverage",
        "leverages",
        "leveraging",
        "outperform",
        "outperforms",
        "outperforming",
        "superior",
        "compared",
        "comparison",
        "comparable",
        "better",
        "best",
        "strong",
        "stronger",
        "robust",
        "robustness",
        "high",
        "higher",
        "low",
        "lower",
        "large",
        "larger",
        "small",
        "smaller",
        "simple",
        "simply",
        "key",
        "crucial",
        "important",
        "remains",
        "remain",
        "limited",
        "limitation",
        "limitations",
        "lack",
        "lacks",
        "despite",
        "due",
        "often",
        "typically",
        "usually",
        "while",
        "thus",
        "therefore",
        "hence",
        "given",
        "make",
        "makes",
        "making",
        "provide",
        "provides",
        "providing",
        "allows",
        "allow",
        "allowing",
        "able",
        "ability",
        "capability",
        "capabilities",
        "capable",
        "potential",
        "specific",
        "general",
        "generally",
        "overall",
        "whereas",
        "toward",
        "towards",
        "etc",
        "i.e",
        "e.g",
        "ie",
        "eg",
        "s",
        "t",
        "benchmark",
        "benchmarks",
        "dataset",
        "datasets",
        "evaluation",
        "evaluate",
        "evaluated",
        "evaluations",
        "analysis",
        "analyze",
        "analyzed",
        "conduct",
        "conducted",
        "comprehensive",
        "terms",
        "find",
        "findings",
        "finding",
        "demonstrating",
        "introducing",
        "designed",
        "design",
        "designs",
        "develop",
        "developed",
        "development",
        "aim",
        "aims",
        "goal",
        "goals",
        "process",
        "processes",
        "level",
        "levels",
        "time",
        "times",
        "way",
        "ways",
        "number",
        "numbers",
        "set",
        "sets",
        "wide",
        "widely",
        "range",
        "ranging",
        "multiple",
        "several",
        "many",
        "much",
        "more",
        "most",
        "less",
        "least",
        "further",
        "significantly",
        "substantial",
        "substantially",
        "consistently",
        "consistent",
        "notably",
        "notable",
        "remarkable",
        "competitive",
        "promising",
        "effectively",
        "accuracy",
        "accurate",
        "accurately",
        "extensive",
        "extensively",
        "evaluate",
        # verbs and adjectives of any field, which name no topic ("compatible, optimize")
        "compatible",
        "compatibility",
        "optimize",
        "optimizes",
        "optimized",
        "optimizing",
        "paradigm",
        "paradigms",
        "algorithm",
        "algorithms",
        "claim",
        "claims",
        "parameter",
        "parameters",
        "strategy",
        "strategies",
        "technique",
        "techniques",
        "mechanism",
        "mechanisms",
        "module",
        "modules",
        "component",
        "components",
        "solution",
        "solutions",
        "baseline",
        "baselines",
        "setting",
        "settings",
        "scenario",
        "scenarios",
        "manner",
        "aspect",
        "aspects",
        "insight",
        "insights",
        "factor",
        "factors",
        "property",
        "properties",
        "content",
        "scale",
        "scalable",
        "scalability",
        "complex",
        "diverse",
        "enhance",
        "enhances",
        "enhanced",
        "enhancing",
        "learn",
        "learns",
        "learned",
        "trained",
        "train",
        "obtain",
        "obtained",
        "require",
        "requires",
        "required",
        "requiring",
        "reduce",
        "reduces",
        "reduced",
        "reducing",
        "explore",
        "explores",
        "explored",
        "investigate",
        "investigates",
        "investigated",
        "understand",
        "understanding",
        "end-to-end",
    ]
)


# Words that may end a bigram though they are boilerplate alone ("diffusion models").
HEADS = frozenset(
    [
        "model",
        "models",
        "network",
        "networks",
        "system",
        "systems",
        "learning",
        "data",
        "understanding",
    ]
)

# words (hyphenated ones whole), and runs of anything else, which break phrases:
# "reinforcement learning (RL)" gives no "learning rl"
_TOKEN = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*|[^\sa-z0-9]+")
_NOISE = re.compile(r"https?://\S+|www\.\S+|\$[^$]*\$|\\[a-zA-Z]+")
_TEXTS_PER_CLUSTER = 3000
_TEXTS_IN_ALL = 16_000
_TERMS = 8


def _stop_words() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS) | BOILERPLATE


def _analyzer() -> Callable[[str], list[str]]:
    """Text to its distinct terms: content words, and bigrams of adjacent content words (a stop
    word, punctuation or any other character between two words breaks the pair)."""
    stop = _stop_words()
    kinds: dict[
        str, int
    ] = {}  # 0 not a word, 1 stop word, 2 stop word that may end a bigram, 3 content

    def kind(token: str) -> int:
        first = token[0]
        if not ("a" <= first <= "z" or "0" <= first <= "9"):
            found = 0
        elif len(token) < 2 or not any("a" <= ch <= "z" for ch in token):
            found = 1
        elif token in stop:
            found = 2 if token in HEADS else 1
        else:
            found = 3
        kinds[token] = found
        return found

    def analyze(text: str) -> list[str]:
        terms: set[str] = set()
        prev = None
        for token in _TOKEN.findall(_NOISE.sub(" ", text or "").lower()):
            found = kinds.get(token)
            if found is None:
                found = kind(token)
            if found == 3:
                terms.add(token)
                if prev is not None:
                    terms.add(f"{prev} {token}")
                prev = token
            else:
                if found == 2 and prev is not None:
                    terms.add(f"{prev} {token}")
                prev = None
        return list(terms)

    return analyze


def cluster_terms(
    texts: Sequence[str], labels: np.ndarray, k: int, rng: np.random.Generator
) -> list[tuple[list[str], list[str]]]:
    """For each cluster: (its most distinctive terms, the 2-3 of them that make its label).

    c-TF-IDF on document frequencies: a term scores high when a good share of the cluster's
    papers use it and a much smaller share of the other papers do."""
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import CountVectorizer

    per_cluster = int(min(_TEXTS_PER_CLUSTER, max(200, _TEXTS_IN_ALL // max(k, 1))))
    chosen: list[np.ndarray] = []
    for c in range(k):
        members = np.flatnonzero(labels == c)
        if len(members) > per_cluster:
            members = np.sort(rng.choice(members, size=per_cluster, replace=False))
        chosen.append(members)
    rows = np.concatenate(chosen)
    row_labels = np.concatenate([np.full(len(m), c) for c, m in enumerate(chosen)])
    docs = [texts[i] or "" for i in rows]
    fallback = [([f"topic {c + 1}"], [f"topic {c + 1}"]) for c in range(k)]
    vectorizer = CountVectorizer(
        analyzer=_analyzer(), binary=True, min_df=1 if len(docs) < 500 else 2, dtype=np.float32
    )
    try:
        counts = vectorizer.fit_transform(docs)
    except ValueError:  # no usable word at all (empty texts, only stop words)
        return fallback
    vocab = vectorizer.get_feature_names_out()
    onehot = sp.csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (row_labels, np.arange(len(rows)))),
        shape=(k, len(rows)),
    )
    df = np.asarray((onehot @ counts).todense(), dtype=np.float64)  # k x terms
    sizes = np.array([len(m) for m in chosen], dtype=np.float64)
    everyone = sizes.sum()
    share = df / np.maximum(sizes, 1.0)[:, None]
    others = (df.sum(axis=0)[None, :] - df) / np.maximum(everyone - sizes, 1.0)[:, None]
    # the share in the clusters that use it most (the upper quartile of the clusters' shares)
    # counts too, so a term common to a whole family of clusters names none of them
    rival = np.quantile(share, 0.75, axis=0)[None, :] if k > 3 else others
    score = np.sqrt(share) * np.log1p(share / (0.5 * others + 0.5 * rival + 1.0 / everyone))
    bigram = np.array([" " in t for t in vocab])
    score[:, bigram] *= 1.25  # a phrase names a topic better than either of its words
    # a lone adjective ("clinical", "anatomical") names a topic worse than a noun or a phrase
    modifier = np.array([" " not in t and _modifier(t) for t in vocab])
    score[:, modifier] *= 0.6
    # a term must be used by a fair share of the cluster's papers to name it
    score[(df < np.minimum(3, np.maximum(1, sizes // 5))[:, None]) | (share < 0.04)] = 0.0

    result: dict[int, tuple[list[str], list[str]]] = {}
    taken: set[str] = set()
    used: Counter[str] = Counter()
    for c in np.argsort(-sizes, kind="stable"):
        c = int(c)
        best = [int(j) for j in np.argsort(-score[c], kind="stable")[:300] if score[c, j] > 0]
        cluster_docs = [docs[i] for i in np.flatnonzero(row_labels == c)]
        picked = _pick_terms([str(vocab[j]) for j in best], cluster_docs, _TERMS)
        if not picked:
            result[c] = fallback[c]
            continue
        picked = _complete(picked, cluster_docs)
        picked = _display_forms(picked, cluster_docs)
        label = _distinct_label(picked, taken, used)
        taken.add(", ".join(label).lower())
        used.update(t.lower() for t in label[1:])
        used[label[0].lower() + " (first)"] += 1
        picked = label + [t for t in picked if t not in label]
        result[c] = (picked, label)
    return [result[c] for c in range(k)]


def _pick_terms(candidates: list[str], docs: list[str], count: int) -> list[str]:
    """The best terms, without near-duplicates: a plural of a picked word, a word of a picked
    phrase, a phrase sharing a word with a picked one (two chained bigrams become one trigram
    when the cluster's texts use it: "3d gaussian" + "gaussian splatting")."""
    picked: list[str] = []
    lowered: list[str] | None = None
    for term in candidates:
        words = term.split()
        roots = _roots(words)
        clash = [i for i, p in enumerate(picked) if _related(roots, words, p)]
        if not clash:
            picked.append(term)
        elif len(clash) == 1 and len(words) == 2:
            i = clash[0]
            old = picked[i].split()
            if len(old) == 1:
                picked[i] = term  # the phrase is more specific than its word
            elif len(old) == 2 and (old[1] == words[0] or old[0] == words[1]):
                phrase = (
                    f"{old[0]} {old[1]} {words[1]}"
                    if old[1] == words[0]
                    else f"{words[0]} {old[0]} {old[1]}"
                )
                if lowered is None:
                    lowered = [_NOISE.sub(" ", d).lower() for d in docs]
                pattern = re.compile(r"\b" + re.escape(phrase).replace(r"\ ", r"\s+") + r"\b")
                uses = sum(1 for d in lowered if pattern.search(d))
                if uses >= 0.25 * len(docs) or uses >= 0.5 * sum(
                    1 for d in lowered if old[0] in d and old[1] in d
                ):
                    picked[i] = phrase
        if len(picked) == count:
            break
    return list(dict.fromkeys(picked))


_MODIFIER_ENDINGS = ("al", "ic", "ive", "ous", "able", "ible", "ary", "ful", "ed")
# nouns with those endings that name topics well
_NOUNS = frozenset(
    [
        "signal",
        "signals",
        "journal",
        "animal",
        "interval",
        "tutorial",
        "manual",
        "logic",
        "music",
        "graphic",
        "topic",
        "clinic",
        "retrieval",
        "arrival",
        "rival",
    ]
)


def _modifier(word: str) -> bool:
    """Whether a word is most likely an adjective or participle, by its ending."""
    return len(word) > 4 and word not in _NOUNS and word.endswith(_MODIFIER_ENDINGS)


_WORD = r"[a-z0-9]+(?:-[a-z0-9]+)*"


def _complete(terms: list[str], docs: list[str]) -> list[str]:
    """Terms cut out of a longer phrase, grown into it: when most of a term's uses in the
    cluster's texts go on (or start) with the same content word, that word joins it ("3d point"
    becomes "3d point clouds", "visual question" becomes "visual question answering"), up to
    four words. A grown term that repeats an earlier one is dropped."""
    stop = _stop_words()
    lowered = "\n".join(_NOISE.sub(" ", d).lower() for d in docs)
    out: list[str] = []
    for term in terms:
        while len(term.split()) < 4:
            grown = _grow(term, lowered, stop)
            if grown is None:
                break
            term = grown
        words = term.split()
        # a grown term may now repeat one before it ("MRI", "magnetic resonance imaging")
        if not any(_related(_roots(words), words, other) for other in out):
            out.append(term)
    return out


def _grow(term: str, text: str, stop: frozenset[str]) -> str | None:
    phrase = r"\s+".join(re.escape(w) for w in term.split())
    pattern = re.compile(rf"(?<![\w-])(?:({_WORD})[ \t]+)?{phrase}(?:[ \t]+({_WORD}))?(?![\w-])")
    # neighbouring words counted by root ("cloud" and "clouds" together), each written in
    # its most common form
    before: Counter[str] = Counter()
    after: Counter[str] = Counter()
    forms: dict[str, Counter[str]] = {}
    uses = 0
    for prev, nxt in pattern.findall(text):
        uses += 1
        for counter, word in ((before, prev), (after, nxt)):
            if word:
                root = _root(word)
                counter[root] += 1
                forms.setdefault(root, Counter())[word] += 1
    if uses < 3:
        return None
    for counter, forward in ((after, True), (before, False)):
        if not counter:
            continue
        root, seen = counter.most_common(1)[0]
        word = forms[root].most_common(1)[0][0]
        content = any("a" <= ch <= "z" for ch in word) and len(word) > 1
        # a head word ends a lone word ("diffusion models"), but adds nothing to a phrase
        allowed = word not in stop or (forward and word in HEADS and " " not in term)
        if content and allowed and seen >= 0.6 * uses and seen >= 3:
            return f"{term} {word}" if forward else f"{word} {term}"
    return None


def _related(roots: set[str], words: list[str], other: str) -> bool:
    """Whether a term repeats a word of ``other``, or is (or contains) its acronym, or the
    reverse: "RAG systems" and "retrieval-augmented generation", "LLMs" and "language models"."""
    other_words = other.split()
    other_roots = _roots(other_words)
    if _roots(words) & other_roots:
        return True
    mine = roots | {w.lower() for w in words}
    theirs = other_roots | {w.lower() for w in other_words}
    return any(_abbreviates(r, other_words) for r in mine) or any(
        _abbreviates(r, words) for r in theirs
    )


def _roots(words: list[str]) -> set[str]:
    return {_root(part) for w in words for part in w.split("-") if part}


def _abbreviates(word: str, phrase: list[str]) -> bool:
    parts = [p for w in phrase for p in w.split("-") if p]
    if len(parts) < 2 or len(word) < 2:
        return False
    initials = "".join(p if p[0].isdigit() else p[0] for p in parts)
    return word == initials or (word.endswith(initials) and len(word) - len(initials) == 1)


def _root(word: str) -> str:
    for suffix, repl in (("ies", "y"), ("sses", "ss"), ("es", "e"), ("s", "")):
        if word.endswith(suffix) and len(word) > len(suffix) + 2 and not word.endswith("ss"):
            return word[: -len(suffix)] + repl
    return word


def _display_forms(terms: list[str], docs: list[str]) -> list[str]:
    """Each term as the papers usually write it when that has capitals ("LLMs", "3D", "NeRF",
    "Gaussian splatting"), else in lower case."""
    if not terms:
        return []
    alternatives = sorted(terms, key=len, reverse=True)
    pattern = re.compile(
        r"(?<![\w-])(?:"
        + "|".join(re.escape(t).replace(r"\ ", r"\s+") for t in alternatives)
        + r")(?![\w-])",
        re.IGNORECASE,
    )
    forms: dict[str, Counter[str]] = {t: Counter() for t in terms}
    for found in pattern.findall("\n".join(docs[:400])):
        form = " ".join(found.split())
        if form.lower() in forms:
            forms[form.lower()][form] += 1
    return [_display_form(t, forms[t]) for t in terms]


def _display_form(term: str, forms: Counter[str]) -> str:
    if not forms:
        return term
    total = sum(forms.values())
    form, seen = forms.most_common(1)[0]
    if form == term or seen < 0.5 * total:
        return term
    # keep capitals that belong to the word ("LLMs", "NeRF", "3D"), and title case only when
    # the papers nearly always write it so ("Gaussian"), not for a title's or sentence's sake
    always = seen >= 0.8 * total
    return re.sub(
        r"[^\s-]+",
        lambda w: w[0] if always or any(ch.isupper() for ch in w[0][1:]) else w[0].lower(),
        form,
    )


def _distinct_label(terms: list[str], taken: set[str], used: Counter[str]) -> list[str]:
    """2 terms for the label (3 when short), unlike the labels already given: a term may lead at
    most two labels, and appear after the lead in no other label, while there are other terms."""

    def free(term: str, lead: bool) -> bool:
        key = term.lower()
        if lead:
            return used[key + " (first)"] < 2 and used[key] == 0
        return used[key] == 0 and used[key + " (first)"] == 0

    lead = next((t for t in terms if free(t, True)), terms[0])
    rest = [t for t in terms if t != lead and free(t, False)]
    rest += [t for t in terms if t != lead and t not in rest]  # when nothing else is left
    size = 3 if len(rest) >= 2 and len(lead) + len(rest[0]) + len(rest[1]) <= 26 else 2
    label = [lead, *rest[: size - 1]]
    if ", ".join(label).lower() not in taken:
        return label
    for j in range(size - 1, len(rest)):
        candidate = [lead, *rest[: size - 2], rest[j]]
        if ", ".join(candidate).lower() not in taken:
            return candidate
    label = [lead, *rest]
    number = 2
    while ", ".join(label).lower() in taken:  # nothing tells them apart: number them
        label = [lead, *rest, f"({number})"] if rest or lead else [f"({number})"]
        number += 1
    return label
