"""What a proposal's text says, offline: an extractive summary (sumy's TextRank or LexRank, or
the lead sentence), category labels from keyword rules, keywords (YAKE) and tone (VADER's
lexicon), each with the sentences it rests on.

Nothing is downloaded at run time: sentences and words are split by segtok's rules (which YAKE
brings), not by NLTK's punkt model, which sumy's own tokenizer would try to load; sumy's
stop words and Snowball stemmer, YAKE's stop words and VADER's lexicon ship inside their
packages.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

SUMMARISERS = ("title", "textrank", "lexrank", "lead")
CATEGORIES = ("treasury", "parameter change", "upgrade", "onboarding", "other")

# Keyword rules per category (word-boundary regexes, case-insensitive). A title match counts
# twice as much as a body sentence; a category needs a score of 3 (the title and a sentence, or
# three sentences), or a title match alone when there is no body; "other" when none reaches
# it. The rules were written from Decentraland titles and governance texts in general; the
# threshold was chosen among six variants on the MakerDAO polls that also score it
# (docs/governance.md), so that score is optimistic.
RULES: dict[str, tuple[str, ...]] = {
    "treasury": (
        r"grants?",
        r"budgets?",
        r"fund(s|ing|ed)?",
        r"treasury",
        r"payments?",
        r"pay(out)?",
        r"compensation",
        r"reimburse(ment)?",
        r"salar(y|ies)",
        r"expenses?",
        r"bount(y|ies)",
        r"tender",
        r"core units?",
        r"hiring",
        r"transfer \d",
        r"(spend|spending)",
        r"(mana|dai|usdc|usd)\s?\d[\d,.]*k?",
        r"\$\s?\d[\d,.]*\s?(k|m|million)?",
    ),
    "parameter change": (
        r"parameters?",
        r"debt ceilings?",
        r"stability fees?",
        r"(base|savings|interest|borrow|dsr) rates?",
        r"rates? (change|adjustment)",
        r"liquidation (ratio|penalty)",
        r"thresholds?",
        r"quorum",
        r"(adjust|adjusting|adjustment|increase|decrease|raise|lower|reduce|set)\w* the",
        r"(increase|decrease|raise|lower|reduce)\w* .{0,40}\bfrom \S+ to\b",
        r"from \d[\d,.]*\s?%? to \d",
        r"risk (parameters?|premium)",
        r"fees?",
        r"(caps?|limits?)",
        r"auctions?",
    ),
    "upgrade": (
        r"upgrades?",
        r"upgrad(e|ing) (the )?(contract|protocol)",
        r"migrat(e|ion|ing)",
        r"smart contracts?",
        r"(new )?implementation",
        r"deploy(ment|ing|ed)?",
        r"(proxy|module|oracle) (change|update|replacement)",
        r"(v\d|version \d)",
        r"bug ?fix",
        r"patch",
        r"technical",
        r"bridge",
        r"(code|protocol) (change|update)",
    ),
    "onboarding": (
        r"onboard(ing)?",
        r"(new|add|adding|list|listing) .{0,30}collateral",
        r"collateral (type|onboarding)",
        r"greenlight",
        r"(whitelist|allowlist)",
        r"points? of interest",
        r"poi",
        r"linked wearables?",
        r"catalyst",
        r"integrat(e|ion)",
        r"new vault( type)?",
        r"add(ing)? .{0,20}(to|as) (the )?(list|collateral|vault)",
    ),
}
_COMPILED = {
    name: re.compile(r"\b(" + "|".join(patterns) + r")\b", re.IGNORECASE)
    for name, patterns in RULES.items()
}

_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_URL = re.compile(r"https?://\S+")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s*(.*)$")
_BULLET = re.compile(r"^\s*([-*+]|\d+[.)])\s+")
_EMPHASIS = re.compile(r"(\*\*|__|\*|`|~~)")
_HTML = re.compile(r"<[^>]+>")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'.\-%$]*")
CATEGORY_SCORE = 3.0
TITLE_ONLY_SCORE = 2.0  # a proposal with a title only: its match is all the evidence there is
MIN_WORDS = 4  # shorter "sentences" (labels, table cells) are not summary material


@dataclass(frozen=True)
class Evidence:
    """A label or number and the sentence(s) of the text it comes from."""

    label: str
    score: float
    sentences: tuple[str, ...]


@dataclass(frozen=True)
class TextAnalysis:
    summary: tuple[str, ...]
    categories: tuple[Evidence, ...]
    keywords: tuple[Evidence, ...]
    tone: float  # VADER compound score of the text, mean over its sentences, in [-1, 1]
    tone_evidence: tuple[Evidence, ...] = field(default=())

    @property
    def category_labels(self) -> tuple[str, ...]:
        return tuple(e.label for e in self.categories)


def plain_sentences(markdown: str, *, min_words: int = MIN_WORDS) -> list[str]:
    """The sentences of a Markdown text: links reduced to their text, URLs, HTML and emphasis
    removed, headings left out, each list item or table row its own unit, then split into
    sentences by segtok's rules (no download)."""
    from segtok.segmenter import split_multi

    paragraphs: list[str] = []
    current: list[str] = []

    def close() -> None:
        if current:
            paragraphs.append(" ".join(current))
            current.clear()

    fenced = False
    for raw in markdown.splitlines():
        if raw.strip().startswith("```"):
            fenced = not fenced
            close()
            continue
        if fenced or _HEADING.match(raw) or set(raw.strip()) <= set("-=|: "):
            close()  # code, headings and rules are not sentences
            continue
        line = _HTML.sub(" ", _URL.sub(" ", _LINK.sub(r"\1", raw)))
        line = _EMPHASIS.sub("", line).replace("|", " ; ")
        if _BULLET.match(line):
            close()
            current.append(_BULLET.sub("", line).strip())
            close()
            continue
        if not line.strip():
            close()
            continue
        current.append(line.strip())
    close()
    out = []
    for paragraph in paragraphs:
        for found in split_multi(re.sub(r"\s+", " ", paragraph)):
            sentence = found.strip(" ;")
            if len(_WORD.findall(sentence)) >= min_words:
                out.append(sentence)
    return out


class _Tokenizer:
    """What sumy asks of a tokenizer, answered by segtok (sumy's own loads NLTK's punkt)."""

    language = "english"

    def to_sentences(self, paragraph: str) -> tuple[str, ...]:
        from segtok.segmenter import split_multi

        return tuple(s for s in split_multi(paragraph) if s.strip())

    def to_words(self, sentence: str) -> tuple[str, ...]:
        return tuple(w for w in _WORD.findall(sentence))


@cache
def _summarisers() -> dict[str, Any]:
    from sumy.nlp.stemmers import Stemmer
    from sumy.summarizers.lex_rank import LexRankSummarizer
    from sumy.summarizers.text_rank import TextRankSummarizer
    from sumy.utils import get_stop_words

    stemmer = Stemmer("english")
    made: dict[str, Any] = {}
    for name, kind in (("textrank", TextRankSummarizer), ("lexrank", LexRankSummarizer)):
        summariser = kind(stemmer)
        summariser.stop_words = get_stop_words("english")
        made[name] = summariser
    return made


def summarise(
    sentences: Sequence[str], n: int = 1, method: str = "title", title: str = ""
) -> list[str]:
    """``n`` of ``sentences``, in text order: the most central by TextRank or LexRank; "title":
    those sharing the most content words with ``title`` (ties: TextRank's centrality), since
    proposal texts carry much boilerplate that is central but says nothing of the proposal;
    "lead": the first ``n`` (the baseline)."""
    if method not in SUMMARISERS:
        raise ValueError(f"unknown summariser {method!r} (one of {', '.join(SUMMARISERS)})")
    if method == "lead" or len(sentences) <= n:
        return list(sentences[:n])
    from sumy.models.dom import ObjectDocumentModel, Paragraph, Sentence

    tokenizer = _Tokenizer()
    units = [Sentence(s, tokenizer) for s in sentences]
    document = ObjectDocumentModel([Paragraph(units)])
    if method == "title":
        rating = _summarisers()["textrank"].rate_sentences(document)
        wanted = _stems(title)
        overlap = [len(_stems(s) & wanted) / max(1, len(wanted)) for s in sentences]
        best = sorted(range(len(units)), key=lambda i: (-overlap[i], -rating[units[i]], i))
        return [sentences[i] for i in sorted(best[:n])]
    chosen = {str(s) for s in _summarisers()[method](document, n)}
    picked = [s for s in sentences if s in chosen]
    return picked[:n] or list(sentences[:n])


def _stems(text: str) -> set[str]:
    stop, stem = _stop_stem()
    return {
        stem(w.lower()) for w in _WORD.findall(text) if w.lower() not in stop and w[0].isalpha()
    }


@cache
def _stop_stem() -> tuple[frozenset[str], Any]:
    from sumy.nlp.stemmers import Stemmer
    from sumy.utils import get_stop_words

    return frozenset(get_stop_words("english")), Stemmer("english")


# Proposal types (Decentraland's) whose category is known from the type alone
TYPE_CATEGORIES = {
    "grant": "treasury",
    "bid": "treasury",
    "tender": "treasury",
    "hiring": "treasury",
    "poi": "onboarding",
    "linked_wearables": "onboarding",
    "catalyst": "onboarding",
}


def categorise(title: str, sentences: Sequence[str], kind: str | None = None) -> list[Evidence]:
    """Category labels by keyword rules, each with the title or sentences that matched, plus
    the one a proposal type implies (``TYPE_CATEGORIES``); ``other`` when no category has
    enough evidence."""
    found = []
    implied = TYPE_CATEGORIES.get((kind or "").lower())
    if implied is not None:
        found.append(Evidence(implied, float("inf"), (f"type: {kind}",)))
    needed = CATEGORY_SCORE if sentences else TITLE_ONLY_SCORE
    for name, pattern in _COMPILED.items():
        hits = [title] if pattern.search(title) else []
        score = 2.0 * len(hits)
        for sentence in sentences:
            if pattern.search(sentence):
                hits.append(sentence)
                score += 1.0
        if score >= needed and name != implied:
            found.append(Evidence(name, score, tuple(hits[:2])))
    found.sort(key=lambda e: -e.score)
    return found or [Evidence("other", 0.0, ())]


@cache
def _yake(top: int) -> Any:
    import yake

    return yake.KeywordExtractor(lan="en", n=3, dedupLim=0.7, top=top)


def keywords(title: str, sentences: Sequence[str], top: int = 5) -> list[Evidence]:
    """YAKE's ``top`` keywords of the title and text (a lower YAKE score is more relevant),
    each with the first sentence that holds it."""
    text = ". ".join([title, *sentences]) if title else " ".join(sentences)
    if not text.strip():
        return []
    found = []
    for phrase, score in _yake(top).extract_keywords(text):
        needle = phrase.lower()
        where = next((s for s in [title, *sentences] if needle in s.lower()), "")
        found.append(Evidence(str(phrase), float(score), (where,) if where else ()))
    return found


@cache
def _vader() -> Any:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def tone(sentences: Sequence[str]) -> tuple[float, list[Evidence]]:
    """VADER's compound score, averaged over the sentences, and the most positive and most
    negative sentences (when clearly so, |compound| ≥ 0.05) as evidence."""
    if not sentences:
        return 0.0, []
    scored = [(float(_vader().polarity_scores(s)["compound"]), s) for s in sentences]
    mean = sum(c for c, _ in scored) / len(scored)
    evidence = []
    top = max(scored)
    if top[0] >= 0.05:
        evidence.append(Evidence("most positive", top[0], (top[1],)))
    low = min(scored)
    if low[0] <= -0.05:
        evidence.append(Evidence("most negative", low[0], (low[1],)))
    return mean, evidence


def analyse(
    title: str,
    body: str | None,
    kind: str | None = None,
    *,
    sentences: int = 1,
    method: str = "title",
) -> TextAnalysis:
    """Summary, categories, keywords and tone of one proposal (its title alone when it has no
    body)."""
    units = plain_sentences(body) if body else []
    if not units and title.strip():
        units = [title.strip()]
    mean, evidence = tone(units)
    return TextAnalysis(
        summary=tuple(summarise(units, sentences, method, title)),
        categories=tuple(categorise(title, units if body else [], kind)),
        keywords=tuple(keywords(title, units if body else [])),
        tone=mean,
        tone_evidence=tuple(evidence),
    )


def numbers(text: str) -> set[str]:
    """The numbers written in ``text``, normalised (thousands separators dropped)."""
    return {n.replace(",", "").rstrip(".") for n in _NUMBER.findall(text)}


def numbers_supported(summary: str, body: str) -> bool:
    """Whether every number in ``summary`` also appears in ``body``."""
    return numbers(summary) <= numbers(body)


def rouge_l(candidate: str, reference: str) -> float:
    """ROUGE-L F1 (β = 1) of two texts over lower-case word tokens: the longest common
    subsequence against both lengths."""
    a = [w.lower() for w in _WORD.findall(candidate)]
    b = [w.lower() for w in _WORD.findall(reference)]
    if not a or not b:
        return 0.0
    previous = [0] * (len(b) + 1)
    for x in a:
        row = [0]
        for j, y in enumerate(b):
            row.append(previous[j] + 1 if x == y else max(previous[j + 1], row[j]))
        previous = row
    lcs = previous[-1]
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(a), lcs / len(b)
    return 2 * precision * recall / (precision + recall)


def multilabel_f1(
    truth: Iterable[set[str]], predicted: Iterable[set[str]], labels: Sequence[str]
) -> dict[str, float]:
    """Per-label F1, plus ``micro`` and ``macro`` averages over ``labels``."""
    tp = dict.fromkeys(labels, 0)
    fp = dict.fromkeys(labels, 0)
    fn = dict.fromkeys(labels, 0)
    for t, p in zip(truth, predicted, strict=True):
        for label in labels:
            if label in p and label in t:
                tp[label] += 1
            elif label in p:
                fp[label] += 1
            elif label in t:
                fn[label] += 1

    def f1(tp_: int, fp_: int, fn_: int) -> float:
        return 2 * tp_ / (2 * tp_ + fp_ + fn_) if tp_ + fp_ + fn_ else float("nan")

    scores = {label: f1(tp[label], fp[label], fn[label]) for label in labels}
    scores["micro"] = f1(sum(tp.values()), sum(fp.values()), sum(fn.values()))
    present = [scores[label] for label in labels if scores[label] == scores[label]]
    scores["macro"] = sum(present) / len(present) if present else float("nan")
    return scores


TEXTS = (
    ("dao", "string"),
    ("proposal_id", "string"),
    ("summary", "string"),
    ("categories", "list<string>"),
    ("category_evidence", "string"),
    ("keywords", "list<string>"),
    ("keyword_evidence", "string"),
    ("tone", "float64"),
    ("tone_evidence", "string"),
)


def text_rows(
    proposals: Iterable[tuple[str, str, str, str | None, str | None]],
) -> list[dict[str, Any]]:
    """Rows of the ``texts`` table from (dao, proposal_id, title, body, type); the evidence
    columns are JSON lists of {label, score (null: implied by the type), sentences}."""
    import json

    def evidence(items: Sequence[Evidence]) -> str:
        return json.dumps(
            [
                {
                    "label": e.label,
                    "score": round(e.score, 4) if math.isfinite(e.score) else None,
                    "sentences": e.sentences,
                }
                for e in items
            ]
        )

    rows = []
    for dao, proposal_id, title, body, kind in proposals:
        found = analyse(title or "", body, kind)
        rows.append(
            {
                "dao": dao,
                "proposal_id": proposal_id,
                "summary": " ".join(found.summary),
                "categories": list(found.category_labels),
                "category_evidence": evidence(found.categories),
                "keywords": [e.label for e in found.keywords],
                "keyword_evidence": evidence(found.keywords),
                "tone": round(found.tone, 4),
                "tone_evidence": evidence(found.tone_evidence),
            }
        )
    return rows
