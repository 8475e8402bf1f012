"""Synthetic air-shower observables for proton and iron primaries.

The numbers follow the rough shape of what hybrid cosmic-ray observatories
measure at ultra-high energies, so the classification task has the same
structure as the real one: two composition-sensitive observables (the depth
of shower maximum and the muon number) that both drift with energy, have
heavy-tailed intrinsic fluctuations for light primaries, and are blurred by
detector resolution. Nothing here is fitted to data; it is a toy with honest
physics trends, made in-process so the example never downloads anything.

Run ``python generate.py`` to print per-class summary statistics.
"""

from __future__ import annotations

import math

import numpy as np

FEATURES: tuple[str, ...] = ("lg_energy", "xmax", "lg_nmu", "cos_zenith")
"""Column order of the feature matrix returned by :func:`make_showers`."""

PROTON, IRON = 0, 1

# Physics: mean Xmax of protons at 10^18 eV and the elongation rate (g/cm^2 per
# decade of energy). Iron showers start earlier (superposition: A nucleons of
# energy E/A each), so they peak ~95 g/cm^2 higher in the atmosphere.
XMAX_PROTON_AT_1EEV = 770.0
ELONGATION_RATE = 60.0
XMAX_IRON_SHIFT = -95.0
# Intrinsic shower-to-shower Xmax fluctuations: a single proton's first
# interaction point varies a lot; 56 nucleons average it out.
XMAX_SIGMA = {PROTON: 60.0, IRON: 20.0}

# Muon number grows slightly slower than energy (beta ~ 0.9 in Heitler-Matthews),
# and iron makes ~40% more muons than a proton of the same energy.
LG_NMU_PROTON_AT_1EEV = 7.0
NMU_ENERGY_SLOPE = 0.9
LG_NMU_IRON_SHIFT = math.log10(1.4)
LG_NMU_SIGMA = {PROTON: 0.07, IRON: 0.025}

# Detector resolutions at noise=1. Scaling them with ``noise`` is how params
# move the achievable accuracy.
LG_ENERGY_RESOLUTION = 0.05  # ~12% energy resolution
XMAX_RESOLUTION = 20.0  # g/cm^2 at 10^19 eV; brighter showers are measured better
XMAX_RESOLUTION_SLOPE = 0.4  # relative change per decade of energy
LG_NMU_RESOLUTION = 0.06  # ~15% muon-number resolution
# Reconstructed muon number is attenuated in inclined showers; the model gets
# the zenith angle so it can learn to undo this bias.
LG_NMU_ZENITH_ATTENUATION = 0.12

MAX_ZENITH_DEG = 60.0


def _gumbel_with_moments(
    rng: np.random.Generator, mean: np.ndarray, sigma: float, size: int
) -> np.ndarray:
    """Draw from a Gumbel with the given mean and std.

    Xmax distributions have a long tail towards deep showers (late first
    interactions); a Gumbel reproduces that skew with only two parameters.
    """
    beta = sigma * math.sqrt(6.0) / math.pi
    loc = mean - np.euler_gamma * beta
    return rng.gumbel(loc, beta, size)


def _draw_zenith(rng: np.random.Generator, size: int) -> np.ndarray:
    """Zenith angles of an isotropic flux on a flat detector.

    The rate per solid angle is proportional to cos(theta), which makes
    sin^2(theta) uniformly distributed.
    """
    max_sin2 = math.sin(math.radians(MAX_ZENITH_DEG)) ** 2
    return np.arcsin(np.sqrt(rng.uniform(0.0, max_sin2, size)))


def make_showers(
    n_samples: int, noise: float = 1.0, seed: int = 0, iron_fraction: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """Simulate ``n_samples`` showers and return reconstructed features and labels.

    Returns ``(X, y)`` with X columns as in :data:`FEATURES` and y = 1 for
    iron. The seed is a data seed, separate from the training seed, so that
    every run in a study sees the same showers and their scores compare.
    """
    rng = np.random.default_rng(seed)
    y = (rng.uniform(size=n_samples) < iron_fraction).astype(np.int64)
    is_iron = y == IRON

    lg_e = rng.uniform(18.0, 20.0, n_samples)
    decades = lg_e - 18.0

    xmax_mean = XMAX_PROTON_AT_1EEV + ELONGATION_RATE * decades + XMAX_IRON_SHIFT * is_iron
    xmax = np.where(
        is_iron,
        _gumbel_with_moments(rng, xmax_mean, XMAX_SIGMA[IRON], n_samples),
        _gumbel_with_moments(rng, xmax_mean, XMAX_SIGMA[PROTON], n_samples),
    )

    lg_nmu_mean = LG_NMU_PROTON_AT_1EEV + NMU_ENERGY_SLOPE * decades + LG_NMU_IRON_SHIFT * is_iron
    lg_nmu_sigma = np.where(is_iron, LG_NMU_SIGMA[IRON], LG_NMU_SIGMA[PROTON])
    lg_nmu = rng.normal(lg_nmu_mean, lg_nmu_sigma)

    zenith = _draw_zenith(rng, n_samples)
    sec_minus_1 = 1.0 / np.cos(zenith) - 1.0

    # Detector response: everything the classifier sees is reconstructed.
    lg_e_rec = lg_e + rng.normal(0.0, LG_ENERGY_RESOLUTION * noise, n_samples)
    xmax_resolution = XMAX_RESOLUTION * noise * (1.0 - XMAX_RESOLUTION_SLOPE * (lg_e - 19.0))
    xmax_rec = xmax + rng.normal(0.0, 1.0, n_samples) * xmax_resolution
    lg_nmu_rec = (
        lg_nmu
        - LG_NMU_ZENITH_ATTENUATION * sec_minus_1
        + rng.normal(0.0, LG_NMU_RESOLUTION * noise, n_samples)
    )

    X = np.column_stack([lg_e_rec, xmax_rec, lg_nmu_rec, np.cos(zenith)])
    return X, y


def _summarise(X: np.ndarray, y: np.ndarray) -> None:
    """Print per-class means and spreads, as a quick sanity check of the toy."""
    for label, name in ((PROTON, "proton"), (IRON, "iron")):
        rows = X[y == label]
        stats = "  ".join(
            f"{feat}={rows[:, i].mean():8.3f}±{rows[:, i].std():6.3f}"
            for i, feat in enumerate(FEATURES)
        )
        print(f"{name:6s} n={len(rows):5d}  {stats}")


if __name__ == "__main__":
    _summarise(*make_showers(4000))
