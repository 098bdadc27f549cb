"""A scripted Acrobot expert: beam search over torque sequences on a vectorised model of the dynamics.

The model integrates the Sutton & Barto ("book") Acrobot equations with one RK4 step of 0.2 s,
wraps angles to [-pi, pi] and clips velocities, exactly like Gymnasium's Acrobot-v1 (a test checks
the two agree). Beam search keeps the `width` highest-energy states (distinct after rounding) and
stops at the first state whose tip rises above the goal line; the expert then plays that plan,
re-planning from the real state whenever its plan was interrupted (for example by noise).
"""

from __future__ import annotations

import numpy as np

LINK_MASS, LINK_LENGTH, LINK_COM, LINK_MOI, GRAVITY = 1.0, 1.0, 0.5, 1.0, 9.8
MAX_VEL_1, MAX_VEL_2 = 4 * np.pi, 9 * np.pi
DT = 0.2
TORQUES = np.array([-1.0, 0.0, 1.0])


def _derivatives(state: np.ndarray, torque: np.ndarray) -> np.ndarray:
    """d/dt of (theta1, theta2, dtheta1, dtheta2) for states (N, 4) and torques (N,)."""
    m, l1, lc, inertia, g = LINK_MASS, LINK_LENGTH, LINK_COM, LINK_MOI, GRAVITY
    theta1, theta2, dtheta1, dtheta2 = state.T
    cos2, sin2 = np.cos(theta2), np.sin(theta2)
    d1 = m * lc**2 + m * (l1**2 + lc**2 + 2 * l1 * lc * cos2) + 2 * inertia
    d2 = m * (lc**2 + l1 * lc * cos2) + inertia
    phi2 = m * lc * g * np.cos(theta1 + theta2 - np.pi / 2)
    phi1 = (
        -m * l1 * lc * dtheta2**2 * sin2
        - 2 * m * l1 * lc * dtheta2 * dtheta1 * sin2
        + (m * lc + m * l1) * g * np.cos(theta1 - np.pi / 2)
        + phi2
    )
    ddtheta2 = (torque + d2 / d1 * phi1 - m * l1 * lc * dtheta1**2 * sin2 - phi2) / (
        m * lc**2 + inertia - d2**2 / d1
    )
    ddtheta1 = -(d2 * ddtheta2 + phi1) / d1
    return np.stack([dtheta1, dtheta2, ddtheta1, ddtheta2], axis=1)


def model_step(state: np.ndarray, torque: np.ndarray) -> np.ndarray:
    """One Acrobot-v1 step for states (N, 4) under torques (N,): RK4, wrap, clip."""
    k1 = _derivatives(state, torque)
    k2 = _derivatives(state + DT / 2 * k1, torque)
    k3 = _derivatives(state + DT / 2 * k2, torque)
    k4 = _derivatives(state + DT * k3, torque)
    nxt = state + DT / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
    nxt[:, :2] = (nxt[:, :2] + np.pi) % (2 * np.pi) - np.pi
    nxt[:, 2] = np.clip(nxt[:, 2], -MAX_VEL_1, MAX_VEL_1)
    nxt[:, 3] = np.clip(nxt[:, 3], -MAX_VEL_2, MAX_VEL_2)
    return nxt


def tip_height(state: np.ndarray) -> np.ndarray:
    """Height of the tip above the pivot, (N,); the goal is height > 1."""
    return -np.cos(state[:, 0]) - np.cos(state[:, 0] + state[:, 1])


def energy(state: np.ndarray) -> np.ndarray:
    """Mechanical energy of states (N, 4), (N,)."""
    m, l1, lc, inertia, g = LINK_MASS, LINK_LENGTH, LINK_COM, LINK_MOI, GRAVITY
    theta1, theta2, dtheta1, dtheta2 = state.T
    potential = -m * g * lc * np.cos(theta1) - m * g * (l1 * np.cos(theta1) + lc * np.cos(theta1 + theta2))
    omega2 = dtheta1 + dtheta2
    kinetic = (
        0.5 * (m * lc**2 + inertia) * dtheta1**2
        + 0.5 * m * (l1**2 * dtheta1**2 + lc**2 * omega2**2 + 2 * l1 * lc * dtheta1 * omega2 * np.cos(theta2))
        + 0.5 * inertia * omega2**2
    )
    return potential + kinetic


def plan(state: np.ndarray, width: int = 1000, max_steps: int = 100) -> list[int]:
    """Discrete actions (0/1/2 = torque -1/0/+1) that bring `state` (4,) to the goal, or the
    highest-energy sequence of `max_steps` actions when none is found."""
    beam = np.asarray(state, dtype=np.float64)[None]
    history = np.zeros((1, 0), dtype=np.int64)
    for _ in range(max_steps):
        children = model_step(np.repeat(beam, 3, axis=0), np.tile(TORQUES, len(beam)))
        actions = np.concatenate([np.repeat(history, 3, axis=0), np.tile([0, 1, 2], len(beam))[:, None]], 1)
        reached = np.flatnonzero(tip_height(children) > 1.0)
        if len(reached):
            return actions[reached[0]].tolist()
        _, distinct = np.unique(np.round(children, 3), axis=0, return_index=True)
        order = distinct[np.argsort(-energy(children[distinct]))][:width]
        beam, history = children[order], actions[order]
    return history[0].tolist()
