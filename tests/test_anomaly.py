"""detect_anomaly names the first op that makes NaN/Inf, in forward and in backward."""
import numpy as np
import pytest

import minigrad as mg


def test_forward_anomaly_names_op_and_inputs():
    x = mg.tensor([1.0, -1.0], requires_grad=True)
    with mg.detect_anomaly(), np.errstate(invalid="ignore"):
        y = x * 2  # fine
        with pytest.raises(mg.AnomalyError, match=r"Log produced non-finite values in "
                                                  r"forward .*nan 1.*inputs: float32\(2,\)"):
            y.log()


def test_backward_anomaly_names_op():
    x = mg.tensor([0.0, 4.0], requires_grad=True)
    y = x.sqrt().sum()  # finite forward, infinite gradient at 0
    with mg.detect_anomaly(), np.errstate(divide="ignore"):
        with pytest.raises(mg.AnomalyError, match=r"Sqrt.backward .* gradient of input 0 "
                                                  r".*inf 1"):
            y.backward()


def test_anomaly_off_by_default_and_restored():
    x = mg.tensor([-1.0])
    with np.errstate(invalid="ignore"):
        assert np.isnan(x.log().item())
        with mg.detect_anomaly():
            pass
        assert np.isnan(x.log().item())
    mg.set_detect_anomaly(True)
    try:
        with pytest.raises(mg.AnomalyError), np.errstate(invalid="ignore"):
            x.log()
    finally:
        mg.set_detect_anomaly(False)
