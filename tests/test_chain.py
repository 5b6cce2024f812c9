"""backprop.chain: both orders give the same row; the counts are the textbook ones."""

import numpy as np
import pytest

from backprop.chain import chain_counts, chain_product, matmul_count


def random_chain(sizes, seed=0):
    rng = np.random.default_rng(seed)
    Js = [rng.standard_normal((sizes[l], sizes[l - 1])) for l in range(1, len(sizes))]
    g = rng.standard_normal((1, sizes[-1]))
    return g, Js


@pytest.mark.parametrize("sizes", [[3, 4], [4, 4, 4, 4], [2, 7, 3, 5, 1], [6, 2, 9]])
def test_orders_agree_with_the_full_product(sizes):
    g, Js = random_chain(sizes)
    full = g
    for J in reversed(Js):
        full = full @ J
    R, _ = chain_product(g, Js, "reverse")
    F, _ = chain_product(g, Js, "forward")
    assert R.shape == F.shape == (1, sizes[0])
    np.testing.assert_allclose(R, full, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(F, full, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("sizes", [[3, 4], [4, 4, 4, 4], [2, 7, 3, 5, 1], [6, 2, 9]])
def test_counts_match_what_chain_product_counted(sizes):
    g, Js = random_chain(sizes)
    counts = chain_counts(sizes)
    assert counts["reverse"] == chain_product(g, Js, "reverse")[1]
    assert counts["forward"] == chain_product(g, Js, "forward")[1]


@pytest.mark.parametrize("L", [1, 2, 5, 10])
@pytest.mark.parametrize("n", [1, 3, 8])
def test_constant_width_formulas(L, n):
    counts = chain_counts([n] * (L + 1))
    assert counts["reverse"] == L * n * n
    assert counts["forward"] == (L - 1) * n**3 + n * n


def test_hand_counted_small_case():
    # sizes [2, 3, 4]: reverse (1x4)(4x3) = 12, then (1x3)(3x2) = 6 -> 18;
    # forward (4x3)(3x2) = 24, then (1x4)(4x2) = 8 -> 32
    assert chain_counts([2, 3, 4]) == {"reverse": 18, "forward": 32}
    assert matmul_count((4, 3), (3, 2)) == 24


def test_bad_input_is_rejected_with_shapes_named():
    g, Js = random_chain([3, 4, 5])
    with pytest.raises(ValueError, match=r"\(1, 5\)"):
        chain_product(g.T, Js)
    with pytest.raises(ValueError, match="J_2"):
        chain_product(g, [Js[0], Js[0]])
    with pytest.raises(ValueError, match="order"):
        chain_product(g, Js, "sideways")
    with pytest.raises(ValueError, match="non-empty"):
        chain_product(g, [])
    with pytest.raises(TypeError):
        chain_product(g, [J.astype(int) for J in Js])
    bad = Js[0].copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        chain_product(g, [bad, Js[1]])
    with pytest.raises(ValueError, match="sizes"):
        chain_counts([3])
    with pytest.raises(ValueError, match="sizes"):
        chain_counts([3, 0])
    with pytest.raises(ValueError, match="inner"):
        matmul_count((2, 3), (4, 5))
