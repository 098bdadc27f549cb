"""The scripted expert of the paper's pushing task: get beside or behind the puck, push it to the goal.

The hand moves in the table's plane only (2-D actions: the mocap's x and y steps; its height and the
closed gripper are fixed), so the expert pushes with the closed claws' flat faces. A flat face
moves a puck along its normal only: dragged sideways, the puck spins about its axis and slides off
the face (MuJoCo's puck has one contact point with the table, so hardly any torsional friction).
So the expert pushes in two straight lines, each along a face's normal:

1. sideways, with the claws' side, until the puck is level with the goal in x (within `X_TOL`);
2. forward, with the claws' front, until the puck is within `STOP` (L1, metres) of the goal (it
   never pushes a puck that is past the goal in y further);

and in between it moves round the puck without touching it. It is stateless: every step reads the
hand, the mocap (where the hand is being pulled to), the puck and the goal, so random actions mixed
in (`rlv collect --noise`) only delay it. Decisions about contact read the hand; free moves are
planned from the mocap, which the hand follows with a lag of 1 to 3 cm.
"""

from __future__ import annotations

import numpy as np

PUCK_RADIUS = 0.02
CLAW_FRONT = 0.024
"""The closed claws' front face, ahead of the hand's centre (y, metres)."""
CLAW_BACK = 0.013
CLAW_HALF_WIDTH = 0.015
BEHIND = PUCK_RADIUS + CLAW_FRONT
"""Puck centre to hand centre when the claws' front touches the puck."""
BESIDE = PUCK_RADIUS + CLAW_HALF_WIDTH
"""Puck centre to hand centre when the claws' side touches the puck."""
SIDE_Y = (CLAW_FRONT - CLAW_BACK) / 2
"""The claws' middle in y, relative to the hand: level with the puck's centre when pushing sideways."""

GAIN = 50.0
"""Action per metre between the mocap and where it should go (the action is clipped to [-1, 1];
one unit moves the mocap 1 cm)."""
LEAD_MIN, LEAD_MAX = 0.015, 0.035
"""How far ahead of the hand the mocap is put while pushing: the weld's pull that overcomes the
puck's friction. More pushes faster but tips the puck over."""
X_TOL = 0.01
"""Push sideways first when the puck is further than this from the goal in x."""
X_PUSHING = 0.025
"""While pushing forward, go on up to this x error (the puck drifts a little)."""
CENTRE = 0.3
"""While pushing forward, how much of the puck's offset from the claws' middle (x) the hand follows."""
X_DONE = 0.004
"""Stop pushing sideways at this x error."""
STOP = 0.013
"""Hold still once the puck is this close (L1) to the goal: the puck slides on for a few mm, and it
may lean on the claws and creep (MuJoCo's puck wobbles on one contact point), so the expert stops
well inside the success radius (0.03) rather than chasing the last millimetres."""
BAND_Y = 0.02
"""How far the hand may be from level with the puck (y) and still push sideways."""


def _toward(target: np.ndarray, mocap: np.ndarray) -> np.ndarray:
    return np.clip(GAIN * (target - mocap), -1.0, 1.0)


def _lead(distance: float) -> float:
    return min(LEAD_MAX, LEAD_MIN + distance)


def _behind_puck(hand: np.ndarray, puck: np.ndarray) -> bool:
    """Whether the claws' front is on the puck's back, centred on it."""
    rel = hand - puck
    return abs(rel[0]) < 0.02 and -BEHIND - 0.03 < rel[1] < -BEHIND + 0.008


def _beside_puck(hand: np.ndarray, puck: np.ndarray, side: float) -> bool:
    """Whether the claws' side is on the puck's `side` (+1: the hand at larger x), level with it."""
    out = side * (hand[0] - puck[0])
    return BESIDE - 0.008 < out < BESIDE + 0.015 and abs(hand[1] - puck[1] + SIDE_Y) < BAND_Y


def _behind(hand: np.ndarray, mocap: np.ndarray, puck: np.ndarray) -> bool:
    """Whether the hand and the mocap are both clear behind the puck (lower y)."""
    return max(hand[1], mocap[1]) < puck[1] - BEHIND - 0.005


def _to_behind(hand: np.ndarray, mocap: np.ndarray, puck: np.ndarray) -> np.ndarray:
    """Where the mocap goes next on its way behind the puck."""
    if _behind(hand, mocap, puck):  # line up
        return np.array([puck[0], puck[1] - BEHIND - 0.015])
    clear = min(abs(hand[0] - puck[0]), abs(mocap[0] - puck[0])) > BESIDE - 0.005
    if clear or hand[1] < puck[1] - BEHIND + 0.008:  # beside it or just behind it: straight back
        return np.array([hand[0], puck[1] - BEHIND - 0.04])
    side = np.sign(mocap[0] - puck[0]) or 1.0  # in front of it: out sideways first
    return np.array([puck[0] + side * (BESIDE + 0.02), mocap[1]])


def _to_beside(hand: np.ndarray, mocap: np.ndarray, puck: np.ndarray, side: float) -> np.ndarray:
    """Where the mocap goes next on its way to the puck's `side`, level with it."""
    if min(side * (hand[0] - puck[0]), side * (mocap[0] - puck[0])) > BESIDE + 0.002:
        return np.array([puck[0] + side * (BESIDE + 0.008), puck[1] - SIDE_Y])  # come level with it
    if _behind(hand, mocap, puck):  # to the corner behind that side
        return np.array([puck[0] + side * (BESIDE + 0.012), puck[1] - BEHIND - 0.01])
    if min(hand[1], mocap[1]) > puck[1]:  # in front of it: out to that side
        return np.array([puck[0] + side * (BESIDE + 0.012), mocap[1]])
    return np.array([hand[0], puck[1] - BEHIND - 0.02])  # beside it on the other side: back off


def push_action(hand: np.ndarray, mocap: np.ndarray, puck: np.ndarray, goal: np.ndarray) -> np.ndarray:
    """The expert's 2-D action (dx, dy in [-1, 1]) from the hand's, the mocap's, the puck's and the
    goal's positions in the table's plane (x, y; metres)."""
    hand, mocap, puck, goal = (np.asarray(v, dtype=np.float64)[:2] for v in (hand, mocap, puck, goal))
    error = goal - puck
    if np.abs(error).sum() < STOP:
        return _toward(hand, mocap)  # the mocap back onto the hand: no more push
    side = -(np.sign(error[0]) or 1.0)  # the side to push from, to move the puck towards the goal
    if _behind_puck(hand, puck) and abs(error[0]) < X_PUSHING:
        if error[1] <= 0.0:  # past the goal: pushing on would only take it further
            return _toward(hand, mocap)
        steer = np.clip(0.5 * error[0], -0.005, 0.005) + CENTRE * (puck[0] - hand[0])
        return _toward(hand + np.array([steer, _lead(error[1])]), mocap)
    if _beside_puck(hand, puck, side) and abs(error[0]) > X_DONE:
        push = _lead(abs(error[0]) - X_DONE)
        return _toward(np.array([hand[0] - side * push, puck[1] - SIDE_Y]), mocap)
    if abs(error[0]) > X_TOL:
        return _toward(_to_beside(hand, mocap, puck, side), mocap)
    return _toward(_to_behind(hand, mocap, puck), mocap)
