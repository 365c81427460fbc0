#!/usr/bin/env python3
"""Fits the rational erf used by the AVX2 GELU (src/kernels/x86/avx2_math.h).

erf(z) ~ z P(z^2) / Q(z^2) on [0, 4], P of degree 6, Q of degree 5 with Q(0) = 1.
Linear least squares on the absolute error of erf, reweighted by the previous
denominator until it settles (Sanathanan-Koerner iteration): close to minimax.
Prints the coefficients (highest power first, as the Horner code uses them)
and the largest error in double and with a float32 evaluation.
Needs numpy only: /usr/bin/python3 scripts/fit_erf.py
"""
from math import erf

import numpy as np

P_TERMS, Q_TERMS = 7, 6

z = np.linspace(1e-4, 4.0, 20000)
f = np.array([erf(v) for v in z]) / z
u = z * z
q_prev = np.ones_like(u)
for _ in range(30):
    w = z / q_prev  # absolute error of erf = z * (P - f Q) / Q
    cols = [u**i for i in range(P_TERMS)] + [-f * u**i for i in range(1, Q_TERMS)]
    sol, *_ = np.linalg.lstsq(np.vstack(cols).T * w[:, None], f * w, rcond=None)
    p = sol[:P_TERMS]
    q = np.concatenate([[1.0], sol[P_TERMS:]])
    q_prev = np.polyval(q[::-1], u)
print("max abs error, double: %.2e" % np.max(np.abs(z * np.polyval(p[::-1], u) / q_prev - z * f)))

p32, q32 = p.astype(np.float32), q.astype(np.float32)
z32 = np.linspace(0, 4, 200001, dtype=np.float32)
u32 = z32 * z32
num, den = np.zeros_like(z32), np.zeros_like(z32)
for c in p32[::-1]:
    num = num * u32 + c
for c in q32[::-1]:
    den = den * u32 + c
ref = np.array([erf(float(v)) for v in z32])
print("max abs error, float32: %.2e" % np.max(np.abs(z32 * num / den - ref)))
print("P:", ", ".join("%.9e" % c for c in p32[::-1]))
print("Q:", ", ".join("%.9e" % c for c in q32[::-1]))
