"""mg.metrics against hand-computed cases."""
import numpy as np
import pytest

import minigrad as mg
from minigrad import metrics as M

# 3 classes; confusion matrix [[2,0,0],[0,1,1],[0,1,2]] (rows true, columns predicted)
Y_TRUE = np.array([0, 1, 2, 2, 1, 0, 2])
Y_PRED = np.array([0, 2, 2, 2, 1, 0, 1])
# binary: tp=3 fp=2 fn=1 tn=1 for pos_label=1
B_TRUE = np.array([1, 0, 1, 1, 0, 0, 1])
B_PRED = np.array([1, 1, 0, 1, 0, 1, 1])


def test_confusion_matrix_rows_true_columns_predicted():
    cm = M.confusion_matrix(Y_TRUE, Y_PRED)
    np.testing.assert_array_equal(cm, [[2, 0, 0], [0, 1, 1], [0, 1, 2]])
    assert cm.dtype == np.int64


def test_confusion_matrix_num_classes_pads_and_checks():
    cm = M.confusion_matrix([0, 1], [1, 1], num_classes=4)
    assert cm.shape == (4, 4) and cm[0, 1] == 1 and cm[1, 1] == 1 and cm.sum() == 2
    with pytest.raises(ValueError, match="label 2 is out of range for num_classes=2"):
        M.confusion_matrix([0, 2], [0, 1], num_classes=2)


def test_accuracy_labels_scores_and_tensors():
    assert M.accuracy(Y_TRUE, Y_PRED) == pytest.approx(5 / 7)
    scores = np.eye(3)[Y_PRED] * 3.0 - 1.0  # argmax is Y_PRED
    assert M.accuracy(Y_TRUE, scores) == pytest.approx(5 / 7)
    assert M.accuracy(mg.tensor(Y_TRUE), mg.tensor(scores.astype(np.float32))) == \
        pytest.approx(5 / 7)


def test_accuracy_single_logit_column_is_binary():
    logits = np.array([[2.0], [-1.0], [0.5], [-3.0]])
    assert M.accuracy([1, 0, 0, 0], logits) == pytest.approx(0.75)


def test_precision_recall_f1_binary():
    assert M.precision(B_TRUE, B_PRED) == pytest.approx(3 / 5)
    assert M.recall(B_TRUE, B_PRED) == pytest.approx(3 / 4)
    assert M.f1(B_TRUE, B_PRED) == pytest.approx(2 * 0.6 * 0.75 / 1.35)


def test_precision_recall_f1_binary_pos_label_0():
    # class 0: true at 1, 4, 5; predicted at 2, 4 -> tp 1
    assert M.precision(B_TRUE, B_PRED, pos_label=0) == pytest.approx(1 / 2)
    assert M.recall(B_TRUE, B_PRED, pos_label=0) == pytest.approx(1 / 3)
    assert M.f1(B_TRUE, B_PRED, pos_label=0) == pytest.approx(0.4)


def test_per_class_macro_micro():
    per = [1.0, 0.5, 2 / 3]
    np.testing.assert_allclose(M.precision(Y_TRUE, Y_PRED, average=None), per)
    np.testing.assert_allclose(M.recall(Y_TRUE, Y_PRED, average=None), per)
    np.testing.assert_allclose(M.f1(Y_TRUE, Y_PRED, average=None), per)
    assert M.precision(Y_TRUE, Y_PRED, average="macro") == pytest.approx(np.mean(per))
    assert M.f1(Y_TRUE, Y_PRED, average="macro") == pytest.approx(np.mean(per))
    for fn in (M.precision, M.recall, M.f1):  # single-label micro averages are accuracy
        assert fn(Y_TRUE, Y_PRED, average="micro") == pytest.approx(5 / 7)


def test_macro_f1_is_mean_of_per_class_f1_not_f1_of_means():
    t, p = [0, 0, 0, 1, 1, 2], [0, 1, 1, 1, 1, 0]
    # per class: P = [1/2, 2/4, 0], R = [1/3, 2/2, 0] -> F1 = [0.4, 2/3, 0]
    assert M.f1(t, p, average="macro") == pytest.approx((0.4 + 2 / 3 + 0) / 3)


def test_zero_division_gives_zero():
    # class 2 is never predicted -> precision 0 for it, no warning or NaN
    prec = M.precision([0, 1, 2], [0, 1, 1], average=None)
    np.testing.assert_allclose(prec, [1.0, 0.5, 0.0])


def test_binary_average_rejects_three_classes():
    with pytest.raises(ValueError, match="average='binary' needs two classes"):
        M.f1(Y_TRUE, Y_PRED)
    with pytest.raises(ValueError, match="pos_label=3 is not one of the labels"):
        M.precision([0, 1], [1, 0], pos_label=3)


def test_bad_inputs():
    with pytest.raises(ValueError, match="differ in length, got 3 and 2"):
        M.accuracy([0, 1, 1], [0, 1])
    with pytest.raises(ValueError, match="average must be one of"):
        M.recall([0, 1], [0, 1], average="weighted")
    with pytest.raises(ValueError, match="must be labels"):
        M.accuracy([0, 1], np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="non-integer"):
        M.accuracy([0, 1], [0.5, 1.0])
    with pytest.raises(ValueError, match=">= 0"):
        M.confusion_matrix([0, -1], [0, 1])


def test_metrics_accept_one_hot_targets():
    y = np.array([0, 2, 1, 2])
    scores = np.eye(3)[[0, 2, 2, 2]]
    one_hot = mg.data.to_categorical(y, 3)
    assert mg.metrics.accuracy(one_hot, scores) == mg.metrics.accuracy(y, scores) == 0.75
    np.testing.assert_array_equal(mg.metrics.confusion_matrix(one_hot, scores, num_classes=3),
                                  mg.metrics.confusion_matrix(y, scores, num_classes=3))
