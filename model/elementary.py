"""Elementary functions in plain IEEE-754 arithmetic: ``exp`` and ``log1p`` for the rules.

The rules call these instead of the C library's ``exp`` and ``log1p`` for two reasons:

* **Speed.** They are branch-free sequences of additions, multiplications, divisions,
  comparisons and bit operations, so the compiler vectorises the rules' loops over runs
  (several runs per SIMD instruction). A call into the C library cannot be vectorised and took
  about a third of the ensemble engine's time.
* **Reproducibility.** Every operation is a correctly rounded IEEE-754 operation (no fused
  multiply-add, no fast-math), so a result is the same bit for bit in a SIMD lane and in scalar
  code, on any x86-64 or ARM machine and with any C library. The C library's results may differ
  in the last bit between its versions and between the variants it picks per CPU.

Accuracy: at most one float away from the correctly rounded result (``tests/test_elementary.py``
checks this against numpy's extended precision where the platform has it).

Both are inlined into their callers (``inline="always"``) and rely on exact IEEE rounding, such as
Dekker's rounding-error term ``x - (u - 1)``: a caller compiled with ``fastmath`` would let the
compiler simplify those terms away. The rules are compiled without it; so must any other caller.
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

__all__ = ["exp", "log1p"]

_INLINE = dict(cache=True, error_model="numpy", nogil=True, inline="always")


@intrinsic
def _float_bits(typingctx, value):
    """The IEEE-754 bit pattern of a float64 as an int64 (a reinterpreting cast)."""
    signature = types.int64(types.float64)

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return signature, codegen


@intrinsic
def _bits_float(typingctx, bits):
    """The float64 with the given IEEE-754 bit pattern (a reinterpreting cast)."""
    signature = types.float64(types.int64)

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return signature, codegen


_INF = math.inf
_NAN = math.nan
_LOG2_E = 1.4426950408889634
# ln 2 split as in fdlibm: _LN2_HI has 32 significant bits, so k * _LN2_HI is exact for |k| < 2**21
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_EXP_OVERFLOW = 709.782712893384  # above: inf
_EXP_UNDERFLOW = -745.1332191019412  # below: 0
_MANTISSA = 0x000FFFFFFFFFFFFF
_EXPONENT_ONE = 0x3FF0000000000000
_EXPONENT_HALF = 0x3FE0000000000000
_SQRT2_MANTISSA = 0x6A09E667F3BCD  # mantissa bits of sqrt(2)
# fdlibm's minimax coefficients for log(1 + f) = f - f^2/2 + s (f^2/2 + R(s^2)), s = f / (2 + f)
_LG1 = 6.666666666666735130e-01
_LG2 = 3.999999999940941908e-01
_LG3 = 2.857142874366239149e-01
_LG4 = 2.222219843214978396e-01
_LG5 = 1.818357216161805012e-01
_LG6 = 1.531383769920937332e-01
_LG7 = 1.479819860511658591e-01


@njit(**_INLINE)
def exp(x: float) -> float:
    """``e**x`` for a float64, at most one float from the correctly rounded result, branch-free.

    Reduction ``x = k ln 2 + r`` with ``k = round(x / ln 2)`` and ``|r| <= ln(2) / 2`` (Cody &
    Waite 1980, *Software Manual for the Elementary Functions*: ``ln 2`` in two parts so that
    ``k ln 2`` is exact), then ``e**r = 1 + r + r^2/2! + ... + r^13/13!`` (truncation error
    below ``7e-18`` relative on ``|r| <= 0.35``) in Horner form, and scaling by ``2**k`` built
    from its bit pattern (in two factors, so subnormal results are right too). ``x > 709.78``
    gives ``inf``, ``x < -745.13`` gives ``0``, NaN gives NaN.
    """
    clamped = x if x > -746.0 else -746.0
    clamped = clamped if clamped < 710.0 else 710.0
    k = np.rint(clamped * _LOG2_E)  # to nearest, ties to even; in [-1076, 1024]
    r = clamped - k * _LN2_HI
    r = r - k * _LN2_LO
    series = 1.0 / 6227020800.0
    series = 1.0 / 479001600.0 + r * series
    series = 1.0 / 39916800.0 + r * series
    series = 1.0 / 3628800.0 + r * series
    series = 1.0 / 362880.0 + r * series
    series = 1.0 / 40320.0 + r * series
    series = 1.0 / 5040.0 + r * series
    series = 1.0 / 720.0 + r * series
    series = 1.0 / 120.0 + r * series
    series = 1.0 / 24.0 + r * series
    series = 1.0 / 6.0 + r * series
    series = 0.5 + r * series
    series = 1.0 + r * series
    mantissa = 1.0 + r * series
    power = int(k)
    half = power >> 1
    scale_a = _bits_float((half + 1023) << 52)
    scale_b = _bits_float((power - half + 1023) << 52)
    result = mantissa * scale_a * scale_b
    result = result if x <= _EXP_OVERFLOW else _INF
    result = result if x >= _EXP_UNDERFLOW else 0.0
    return result if x == x else x


@njit(**_INLINE)
def log1p(x: float) -> float:
    """``log(1 + x)`` for a float64 ``x > -1``, at most one float from the correctly rounded result.

    fdlibm's ``log1p`` (Sun Microsystems 1993, ``s_log1p.c``) without its branches: ``u = 1 + x``
    rounded, ``c = e / u`` with ``e`` its exact rounding error (Dekker's fast two-sum: ``e = 1 -
    (u - x)`` for ``x > 1``, else ``e = x - (u - 1)``), ``u = 2**k (1 + f)`` with ``sqrt(2)/2 <=
    1 + f < sqrt(2)``, and ``log(1 + f)`` from the minimax polynomial in ``s = f / (2 + f)``::

        log1p(x) = k ln 2 + f - (f^2/2 - s (f^2/2 + R(s^2))) + c

    ``x = -1`` gives ``-inf``, ``x < -1`` NaN, ``inf`` gives ``inf``, NaN gives NaN and ``+-0``
    gives ``+-0``.
    """
    u = 1.0 + x
    # Dekker's two-sum error of 1 + x: exact when the larger operand is subtracted first
    error = 1.0 - (u - x) if x > 1.0 else x - (u - 1.0)
    bits = _float_bits(u)
    k = ((bits >> 52) & 0x7FF) - 1023
    top = bits & _MANTISSA
    small = top < _SQRT2_MANTISSA
    # 1 + f in [sqrt(2)/2, sqrt(2)): the mantissa with exponent 0, or -1 above sqrt(2)
    normal = _bits_float(top | (_EXPONENT_ONE if small else _EXPONENT_HALF))
    k = k if small else k + 1
    correction = error / u
    f = normal - 1.0
    half_square = 0.5 * f * f
    s = f / (2.0 + f)
    z = s * s
    series = _LG6 + z * _LG7
    series = _LG5 + z * series
    series = _LG4 + z * series
    series = _LG3 + z * series
    series = _LG2 + z * series
    series = _LG1 + z * series
    remainder = z * series
    kd = float(k)
    result = kd * _LN2_HI - (
        (half_square - (s * (half_square + remainder) + (kd * _LN2_LO + correction))) - f
    )
    result = result if u < _INF else u
    result = result if u > 0.0 else (-_INF if u == 0.0 else _NAN)
    return result if x == x and x != 0.0 else x
