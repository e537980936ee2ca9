"""The PyTorch op set of issue 17: every op forward + backward against PyTorch in
float64 and float32, and float64 gradcheck, on broadcast, odd, size-1 and 0-d shapes.
One table row per case: (minigrad fn, torch fn, input arrays)."""
import numpy as np
import pytest

import minigrad as mg
from helpers import assert_close, torch

R = np.random.default_rng(11)


def rnd(*shape):
    return R.standard_normal(shape)


def unit(*shape):  # inside (-1, 1), away from the ends
    return R.uniform(-0.9, 0.9, shape)


def pos(*shape):
    return R.uniform(0.5, 2.0, shape)


def big(*shape):  # > 1, for acosh
    return R.uniform(1.2, 3.0, shape)


def offgrid(*shape):  # away from integers and half-integers (rounding jumps)
    return R.integers(-4, 4, shape) + R.uniform(0.1, 0.4, shape)


def distinct(*shape):  # no ties, so sort / topk / argmax pick one element
    return R.permutation(int(np.prod(shape)) or 1)[:int(np.prod(shape))].reshape(shape) \
        + R.uniform(0, 0.5, shape)


def th():
    return torch()


IDX = np.array([[0, 2, 1], [1, 1, 0]])
MASK = np.array([[True, False, True, False]])

CASES = {
    # elementwise math
    "sin": (mg.sin, lambda a: a.sin(), [rnd(3, 4)]),
    "cos_0d": (mg.cos, lambda a: a.cos(), [rnd()]),
    "tan": (mg.tan, lambda a: a.tan(), [unit(5)]),
    "asin": (mg.asin, lambda a: a.asin(), [unit(2, 3)]),
    "acos": (mg.acos, lambda a: a.acos(), [unit(1, 3)]),
    "atan": (mg.atan, lambda a: a.atan(), [rnd(7)]),
    "sinh": (mg.sinh, lambda a: a.sinh(), [rnd(3, 1)]),
    "cosh": (mg.cosh, lambda a: a.cosh(), [rnd(3)]),
    "asinh": (mg.asinh, lambda a: a.asinh(), [rnd(4)]),
    "acosh": (mg.acosh, lambda a: a.acosh(), [big(4)]),
    "atanh": (mg.atanh, lambda a: a.atanh(), [unit(5)]),
    "log2": (mg.log2, lambda a: a.log2(), [pos(3)]),
    "log10": (mg.log10, lambda a: a.log10(), [pos(2, 2)]),
    "log1p": (mg.log1p, lambda a: a.log1p(), [pos(3)]),
    "exp2": (mg.exp2, lambda a: a.exp2(), [rnd(3)]),
    "rsqrt": (mg.rsqrt, lambda a: a.rsqrt(), [pos(5)]),
    "erf": (mg.erf, lambda a: a.erf(), [rnd(2, 3)]),
    "floor": (lambda a: mg.floor(a) * a, lambda a: a.floor() * a, [offgrid(5)]),
    "ceil": (lambda a: mg.ceil(a) * a, lambda a: a.ceil() * a, [offgrid(5)]),
    "round": (lambda a: mg.round(a) * a, lambda a: a.round() * a, [offgrid(5)]),
    "trunc": (lambda a: mg.trunc(a) * a, lambda a: a.trunc() * a, [offgrid(5)]),
    "sign": (lambda a: mg.sign(a) * a, lambda a: a.sign() * a, [offgrid(2, 3)]),
    "logaddexp": (mg.logaddexp, lambda a, b: th().logaddexp(a, b), [rnd(3, 1), rnd(4)]),
    "lerp": (mg.lerp, lambda a, b, w: th().lerp(a, b, w), [rnd(3), rnd(2, 1), unit(3)]),
    "fmod": (mg.fmod, lambda a, b: th().fmod(a, b), [rnd(3, 4) * 3, pos(4)]),
    "remainder": (lambda a, b: a % b, lambda a, b: a % b, [rnd(3, 4) * 3, pos(4)]),
    "pow_method": (lambda a: a.pow(3), lambda a: a.pow(3), [rnd(4)]),
    # reductions and scans
    "prod": (lambda a: a.prod(dim=1), lambda a: a.prod(dim=1), [rnd(3, 4)]),
    "prod_zero": (lambda a: a.prod(0), lambda a: a.prod(0),
                  [np.array([[0.0, 1.5], [2.0, 0.0], [3.0, -1.0]])]),
    "prod_all": (lambda a: a.prod(), lambda a: a.prod(), [pos(2, 3)]),
    "std": (lambda a: mg.std(a, dim=0, ddof=1), lambda a: a.std(dim=0), [rnd(5, 2)]),
    "logsumexp": (lambda a: a.logsumexp(dim=-1), lambda a: a.logsumexp(dim=-1),
                  [rnd(3, 5) * 10]),
    "logsumexp_keep": (lambda a: mg.logsumexp(a, dim=(0, 2), keepdim=True),
                       lambda a: a.logsumexp(dim=(0, 2), keepdim=True), [rnd(2, 3, 1)]),
    "cumsum": (lambda a: a.cumsum(1), lambda a: a.cumsum(1), [rnd(2, 5)]),
    "cumprod": (lambda a: a.cumprod(dim=0), lambda a: a.cumprod(dim=0), [rnd(4, 2)]),
    "cumprod_zero": (lambda a: a.cumprod(0), lambda a: a.cumprod(0),
                     [np.array([1.5, 0.0, 2.0, 0.0, -1.0])]),
    "norm": (lambda a: a.norm(dim=1), lambda a: a.norm(dim=1), [rnd(3, 4)]),
    "norm_p3": (lambda a: a.norm(p=3), lambda a: a.norm(p=3), [rnd(5)]),
    "sort": (lambda a: a.sort(dim=1).values, lambda a: a.sort(dim=1).values,
             [distinct(3, 4)]),
    "sort_desc": (lambda a: a.sort(0, descending=True)[0],
                  lambda a: a.sort(0, descending=True)[0], [distinct(3, 2)]),
    "topk": (lambda a: a.topk(2).values, lambda a: a.topk(2).values, [distinct(3, 5)]),
    "topk_smallest": (lambda a: a.topk(2, dim=0, largest=False).values,
                      lambda a: a.topk(2, dim=0, largest=False).values, [distinct(4, 3)]),
    # movement
    "pad_constant": (lambda a: mg.pad(a, (1, 2, 0, 1), value=0.5),
                     lambda a: th().nn.functional.pad(a, (1, 2, 0, 1), value=0.5),
                     [rnd(2, 3, 4)]),
    "pad_reflect": (lambda a: mg.pad(a, (2, 1, 1, 2), mode="reflect"),
                    lambda a: th().nn.functional.pad(a, (2, 1, 1, 2), mode="reflect"),
                    [rnd(1, 2, 3, 4)]),
    "pad_replicate": (lambda a: mg.pad(a, (3, 1), mode="replicate"),
                      lambda a: th().nn.functional.pad(a, (3, 1), mode="replicate"),
                      [rnd(2, 2, 3)]),
    "flip": (lambda a: a.flip(0, 2), lambda a: a.flip((0, 2)), [rnd(2, 3, 4)]),
    "roll": (lambda a: a.roll((1, -2), (0, 1)), lambda a: a.roll((1, -2), (0, 1)),
             [rnd(3, 5)]),
    "index_select": (lambda a: mg.index_select(a, 1, mg.tensor([2, 0, 2])),
                     lambda a: th().index_select(a, 1, th().tensor([2, 0, 2])), [rnd(2, 3)]),
    "roll_flat": (lambda a: a.roll(4), lambda a: a.roll(4), [rnd(2, 3)]),
    "squeeze": (lambda a: a.squeeze(dim=(0, 2)), lambda a: a.squeeze(dim=(0, 2)),
                [rnd(1, 3, 1, 2)]),
    "unsqueeze": (lambda a: a.unsqueeze(-1), lambda a: a.unsqueeze(-1), [rnd(3, 2)]),
    "expand": (lambda a: a.expand(2, -1, 4), lambda a: a.expand(2, -1, 4), [rnd(3, 1)]),
    "broadcast_to": (lambda a: mg.broadcast_to(a, (2, 3)),
                     lambda a: th().broadcast_to(a, (2, 3)), [rnd(3)]),
    "repeat": (lambda a: a.repeat(2, 1, 3), lambda a: a.repeat(2, 1, 3), [rnd(2, 3)]),
    "repeat_interleave": (lambda a: a.repeat_interleave(2, dim=1),
                          lambda a: a.repeat_interleave(2, dim=1), [rnd(2, 3)]),
    "repeat_interleave_counts": (
        lambda a: a.repeat_interleave(mg.tensor([1, 0, 3]), dim=0),
        lambda a: a.repeat_interleave(th().tensor([1, 0, 3]), dim=0), [rnd(3, 2)]),
    "split": (lambda a: a.split(2, dim=1)[2] * 2 + a.split([1, 4], 1)[1].sum(),
              lambda a: a.split(2, dim=1)[2] * 2 + a.split([1, 4], 1)[1].sum(),
              [rnd(2, 5)]),
    "chunk": (lambda a: mg.cat(a.chunk(3, dim=0)[::-1]),
              lambda a: th().cat(a.chunk(3, dim=0)[::-1]), [rnd(7, 2)]),
    "tril": (lambda a: a.tril(), lambda a: a.tril(), [rnd(4, 3)]),
    "triu_batched": (lambda a: a.triu(1), lambda a: a.triu(1), [rnd(2, 3, 4)]),
    "diagonal": (lambda a: a.diagonal(), lambda a: a.diagonal(), [rnd(4, 3)]),
    "diagonal_offset": (lambda a: a.diagonal(-1, 2, 0), lambda a: a.diagonal(-1, 2, 0),
                        [rnd(3, 2, 4)]),
    "gather": (lambda a: a.gather(1, mg.tensor(IDX)), lambda a: a.gather(1, th().tensor(IDX)),
               [rnd(2, 4)]),
    "scatter": (lambda a, s: a.scatter(0, mg.tensor([[1, 0, 2]]), s),
                lambda a, s: a.scatter(0, th().tensor([[1, 0, 2]]), s),
                [rnd(3, 3), rnd(1, 3)]),
    "scatter_add": (lambda a, s: a.scatter_add(1, mg.tensor(IDX), s),
                    lambda a, s: a.scatter_add(1, th().tensor(IDX), s),
                    [rnd(2, 4), rnd(2, 3)]),
    "masked_fill": (lambda a: a.masked_fill(mg.tensor(MASK), -1.0),
                    lambda a: a.masked_fill(th().tensor(MASK), -1.0), [rnd(3, 4)]),
    "masked_fill_tensor": (lambda a, v: a.masked_fill(mg.tensor(MASK), v),
                           lambda a, v: a.masked_fill(th().tensor(MASK), v), [rnd(2, 4), rnd()]),
    "masked_select": (lambda a: a.masked_select(mg.tensor(MASK)),
                      lambda a: a.masked_select(th().tensor(MASK)), [rnd(2, 4)]),
    "clone": (lambda a: a.clone() * a, lambda a: a.clone() * a, [rnd(3)]),
    "einsum_matmul": (lambda a, b: mg.einsum("ij,jk->ik", a, b),
                      lambda a, b: th().einsum("ij,jk->ik", a, b), [rnd(3, 4), rnd(4, 5)]),
    "einsum_batched_t": (lambda a, b: mg.einsum("bqd,bkd->bqk", a, b),
                         lambda a, b: th().einsum("bqd,bkd->bqk", a, b),
                         [rnd(2, 3, 4), rnd(2, 5, 4)]),
    "einsum_outer": (lambda a, b: mg.einsum("i,j", a, b),
                     lambda a, b: th().einsum("i,j", a, b), [rnd(3), rnd(4)]),
    "einsum_dot": (lambda a, b: mg.einsum("i,i->", a, b),
                   lambda a, b: th().einsum("i,i->", a, b), [rnd(5), rnd(5)]),
    "einsum_heads": (lambda a, b: mg.einsum("bhqd,bkhd->bhqk", a, b),
                     lambda a, b: th().einsum("bhqd,bkhd->bhqk", a, b),
                     [rnd(2, 3, 1, 4), rnd(2, 5, 3, 4)]),
    "einsum_sum_out": (lambda a, b: mg.einsum("ijk,jl->il", a, b),
                       lambda a, b: th().einsum("ijk,jl->il", a, b),
                       [rnd(2, 3, 4), rnd(3, 2)]),
    "einsum_trace": (lambda a: mg.einsum("ii", a), lambda a: th().einsum("ii", a),
                     [rnd(3, 3)]),
    "einsum_transpose": (lambda a: mg.einsum("ijk->kij", a),
                         lambda a: th().einsum("ijk->kij", a), [rnd(2, 3, 4)]),
    # 0-d and size-1 shapes
    "logsumexp_0d": (lambda a: a.logsumexp(0), lambda a: a.logsumexp(0), [rnd()]),
    "cumsum_0d": (lambda a: a.cumsum(0), lambda a: a.cumsum(0), [rnd()]),
    "cumprod_size1": (lambda a: a.cumprod(1), lambda a: a.cumprod(1), [rnd(3, 1)]),
    "prod_0d": (lambda a: a.prod(), lambda a: a.prod(), [rnd()]),
    "gather_0d": (lambda a: a.gather(0, mg.tensor(0)), lambda a: a.gather(0, th().tensor(0)),
                  [rnd()]),
    "flip_size1": (lambda a: a.flip(0) * a, lambda a: a.flip(0) * a, [rnd(1, 3)]),
    "sort_0d": (lambda a: a.sort().values, lambda a: a.sort().values, [rnd()]),
    "logaddexp_0d": (mg.logaddexp, lambda a, b: th().logaddexp(a, b), [rnd(), rnd(1, 2)]),
    "einsum_three": (lambda a, b, c: mg.einsum("ij,jk,kl->il", a, b, c),
                     lambda a, b, c: th().einsum("ij,jk,kl->il", a, b, c),
                     [rnd(2, 3), rnd(3, 4), rnd(4, 2)]),
}


def _mg(arrays, dtype, grad=True):
    return [mg.tensor(a, dtype=dtype, requires_grad=grad) for a in arrays]


@pytest.mark.parametrize("name", sorted(CASES))
def test_torch_set_gradcheck_float64(name):
    fn, _, arrays = CASES[name]
    assert mg.gradcheck(fn, _mg(arrays, np.float64))


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-9), (np.float32, 2e-5)],
                         ids=["float64", "float32"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_torch_set_matches_torch(name, dtype, tol):
    t = torch()
    fn, tfn, arrays = CASES[name]
    tdt = t.float64 if dtype == np.float64 else t.float32
    xs = _mg(arrays, dtype)
    ts = [t.tensor(a, dtype=tdt, requires_grad=True) for a in arrays]
    y, ty = fn(*xs), tfn(*ts)
    assert y.dtype == dtype
    assert_close(y, ty, rtol=tol, atol=tol, what=f"{name} forward")
    seed = R.standard_normal(ty.shape)
    y.backward(seed)
    ty.backward(t.tensor(seed, dtype=tdt))
    for i, (x, tt) in enumerate(zip(xs, ts)):
        want = tt.grad if tt.grad is not None else t.zeros_like(tt)
        got = x.grad if x.grad is not None else np.zeros(x.shape)
        assert_close(got, want, rtol=tol, atol=tol, what=f"{name} grad {i}")
