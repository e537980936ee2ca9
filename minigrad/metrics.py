"""Classification metrics: accuracy, precision, recall, F1 and the confusion matrix.

Every metric takes ``(y_true, y_pred)`` in scikit-learn's order. ``y_true`` holds
integer class labels ``(N,)``, or one-hot / probability rows ``(N, C)`` (their
argmax). ``y_pred`` holds labels ``(N,)`` or scores ``(N, C)`` (logits or
probabilities; the argmax is taken). A single score column ``(N, 1)``
is read as the logit of a binary classifier: class 1 when the logit is > 0.
Tensors and anything ``np.asarray`` accepts are welcome.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

__all__ = ["accuracy", "confusion_from_labels", "confusion_matrix", "f1",
           "format_confusion", "labels_from_scores", "precision", "recall",
           "scores_from_confusion"]

_AVERAGES = ("binary", "macro", "micro", None)


def _array(a: Any) -> np.ndarray:
    return np.asarray(getattr(a, "data", a))


def labels_from_scores(y_pred: Any, what: str = "metrics") -> np.ndarray:
    """Predicted labels ``(N,)`` from labels ``(N,)``, scores ``(N, C)`` or logits ``(N, 1)``."""
    p = _array(y_pred)
    if p.ndim == 2 and p.shape[1] == 1:
        return (p[:, 0] > 0).astype(np.int64)
    if p.ndim == 2:
        return p.argmax(axis=1)
    if p.ndim != 1:
        raise ValueError(f"{what}: y_pred must be labels (N,) or scores (N, C), "
                         f"got shape {p.shape}")
    if p.dtype.kind == "f":
        if not np.all(p == np.round(p)):
            raise ValueError(f"{what}: 1-D y_pred must hold class labels, got non-integer "
                             f"values such as {p[p != np.round(p)][0]!r}; pass scores as (N, C)")
        p = p.astype(np.int64)
    return p


def _labels(y_true: Any, y_pred: Any, what: str) -> tuple[np.ndarray, np.ndarray]:
    t = _array(y_true)
    if t.ndim == 2 and t.shape[1] == 1:
        t = t[:, 0]
    elif t.ndim == 2:  # one-hot or probability rows (Keras's categorical targets)
        t = t.argmax(axis=1)
    if t.ndim != 1:
        raise ValueError(f"{what}: y_true must be class labels (N,) or one-hot rows (N, C), "
                         f"got shape {t.shape}")
    if t.dtype.kind == "f":
        if not np.all(t == np.round(t)):
            raise ValueError(f"{what}: y_true must hold integer class labels, got dtype {t.dtype} "
                             "with non-integer values")
        t = t.astype(np.int64)
    elif t.dtype.kind == "b":
        t = t.astype(np.int64)
    elif t.dtype.kind not in "iu":
        raise TypeError(f"{what}: y_true must hold integer class labels, got dtype {t.dtype}")
    p = labels_from_scores(y_pred, what)
    if p.dtype.kind == "b":
        p = p.astype(np.int64)
    if len(t) != len(p):
        raise ValueError(f"{what}: y_true and y_pred differ in length, "
                         f"got {len(t)} and {len(p)}")
    if len(t) and (t.min() < 0 or p.min() < 0):
        raise ValueError(f"{what}: class labels must be >= 0, got min y_true {t.min()}, "
                         f"min y_pred {p.min()}")
    return t, p


def accuracy(y_true: Any, y_pred: Any) -> float:
    """Fraction of samples whose predicted class equals the true one (0.0 for no samples)."""
    t, p = _labels(y_true, y_pred, "accuracy")
    return float(np.mean(t == p)) if len(t) else 0.0


def confusion_matrix(y_true: Any, y_pred: Any, num_classes: int | None = None) -> np.ndarray:
    """Counts ``(K, K)`` int64: row i = true class i, column j = predicted class j.

    ``K`` is ``num_classes`` when given (labels >= K raise ValueError), else one
    more than the largest label seen in either argument.
    """
    t, p = _labels(y_true, y_pred, "confusion_matrix")
    seen = int(max(t.max(initial=-1), p.max(initial=-1))) + 1
    if num_classes is None:
        num_classes = seen
    elif seen > num_classes:
        raise ValueError(f"confusion_matrix: label {seen - 1} is out of range for "
                         f"num_classes={num_classes}")
    return confusion_from_labels(t, p, num_classes)


def confusion_from_labels(t: np.ndarray, p: np.ndarray, num_classes: int) -> np.ndarray:
    """The confusion matrix of checked integer labels; one bincount, no Python loop."""
    k = int(num_classes)
    return np.bincount(t * k + p, minlength=k * k).reshape(k, k).astype(np.int64, copy=False)


def scores_from_confusion(cm: np.ndarray, average: str | None = "macro",
                          pos_label: int = 1) -> dict[str, Any]:
    """Precision, recall and F1 from a confusion matrix (0 where undefined, as sklearn).

    Returns a dict with "precision", "recall", "f1": floats, or arrays ``(K,)`` when
    ``average`` is None.
    """
    cm = np.asarray(cm, dtype=np.float64)
    tp = np.diag(cm)
    predicted, actual = cm.sum(axis=0), cm.sum(axis=1)
    if average == "micro":
        tp, predicted, actual = tp.sum(), predicted.sum(), actual.sum()
    prec = _safe_div(tp, predicted)
    rec = _safe_div(tp, actual)
    f = _safe_div(2 * prec * rec, prec + rec)
    if average == "binary":
        return {"precision": float(prec[pos_label]), "recall": float(rec[pos_label]),
                "f1": float(f[pos_label])}
    if average == "macro":
        # sklearn averages over the classes present in y_true or y_pred
        present = (predicted + actual) > 0
        if not present.any():
            return {"precision": 0.0, "recall": 0.0, "f1": 0.0}
        return {"precision": float(prec[present].mean()), "recall": float(rec[present].mean()),
                "f1": float(f[present].mean())}
    if average == "micro":
        return {"precision": float(prec), "recall": float(rec), "f1": float(f)}
    return {"precision": prec, "recall": rec, "f1": f}


def _safe_div(a: Any, b: Any) -> Any:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return np.divide(a, b, out=np.zeros_like(a), where=b > 0)


def _scores(y_true: Any, y_pred: Any, average: str | None, pos_label: int,
            what: str) -> dict[str, Any]:
    if average not in _AVERAGES:
        raise ValueError(f"{what}: average must be one of {_AVERAGES}, got {average!r}")
    t, p = _labels(y_true, y_pred, what)
    k = int(max(t.max(initial=-1), p.max(initial=-1), 0)) + 1
    if average == "binary":
        classes = np.union1d(t, p)
        if len(classes) > 2:
            raise ValueError(f"{what}: average='binary' needs two classes, got labels "
                             f"{classes.tolist()}; use average='macro', 'micro' or None")
        if pos_label < 0 or (len(classes) == 2 and pos_label not in classes):
            raise ValueError(f"{what}: pos_label={pos_label} is not one of the labels "
                             f"{classes.tolist()}")
        k = max(k, pos_label + 1)
    return scores_from_confusion(confusion_from_labels(t, p, k), average, pos_label)


def precision(y_true: Any, y_pred: Any, average: str | None = "binary",
              pos_label: int = 1) -> Any:
    """tp / (tp + fp): of the samples predicted as a class, the fraction that are.

    average: "binary" (the class ``pos_label`` only; two classes), "macro" (mean over
    the classes present), "micro" (pooled counts), None (array ``(K,)`` per class).
    0.0 where nothing is predicted as the class (sklearn's zero_division=0).
    """
    return _scores(y_true, y_pred, average, pos_label, "precision")["precision"]


def recall(y_true: Any, y_pred: Any, average: str | None = "binary",
           pos_label: int = 1) -> Any:
    """tp / (tp + fn): of the samples of a class, the fraction found. ``average`` as precision."""
    return _scores(y_true, y_pred, average, pos_label, "recall")["recall"]


def f1(y_true: Any, y_pred: Any, average: str | None = "binary", pos_label: int = 1) -> Any:
    """Harmonic mean 2PR / (P + R) per class, then averaged as ``average`` says (macro F1
    is the mean of the per-class F1, as sklearn)."""
    return _scores(y_true, y_pred, average, pos_label, "f1")["f1"]


def format_confusion(cm: np.ndarray, names: Sequence[str]) -> str:
    """The matrix as text: one row per true class, one column per predicted class."""
    short = [n[:7] for n in names]
    width = max(6, max(len(s) for s in short), len(str(cm.max())))
    head = " " * 12 + " ".join(f"{s:>{width}}" for s in short)
    rows = [f"{names[i][:11]:<11} " + " ".join(f"{v:>{width}d}" for v in row)
            for i, row in enumerate(cm)]
    return "\n".join(["confusion matrix (rows: true class, columns: predicted)", head, *rows])
