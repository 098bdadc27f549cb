"""The RLV paper's pushing and drawer-opening tasks (Schmeckpeper et al., CoRL 2020), on Meta-World
v3's physics: `push` and `drawer-open`.

- `push` (the original's `Image48HumanLikeSawyerPushForwardEnv`): 2-D actions (dx, dy) of the hand,
  whose height is held at pushing height and whose gripper stays closed; the puck starts at
  x ~ U[-0.1, 0.1], y = 0.6, in front of the hand (which starts at (0, 0.52)); the goal is fixed
  15 cm further, at (0.0, 0.75), and drawn on the table as a green disc of the success radius;
  success is the puck within 0.03 (L1 distance in x and y) of the goal; horizon 100; a camera above
  the far edge of the table looks down on it at 30 degrees from vertical (the robot reaching in
  from the top of the frame), so the puck, the claws and the goal are in view at 48x48 (the puck
  about 4 pixels wide, the goal disc 6); the hand is kept within PUSH_HAND_LOW and PUSH_HAND_HIGH,
  whose x limits are the frame's edges. The expert is rlv.envs.push_expert.
- `drawer-open` (the original's `MetaworldDrawerOpenSparse2D`): the drawer always at the same place
  (in front of the hand, x = 0); 2-D actions (dy, dz): the x action is forced to 0 by having no x
  action at all, and the gripper stays open (Meta-World's own drawer policy never closes it);
  success is the handle within 0.08 (y) of fully open; horizon 200; Meta-World's corner camera,
  as `drawer-open-mw`. The expert is Meta-World's drawer policy, its y and z.

Both have the three visual domains of rlv.envs.metaworld_tasks and a sparse reward (-1 per step,
0 on success). Why 2-D for the drawer: the original's name says so, and an action dimension that
does nothing would cost SAC entropy (its target is -|A|) and give the inverse model a coordinate it
cannot predict; the gripper does nothing for a drawer that is pulled by its handle.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from rlv.envs.metaworld_tasks import MetaWorldImageEnv, Task
from rlv.envs.push_expert import push_action

PUSH_HORIZON = 100
PUSH_GOAL = np.array([0.0, 0.75, 0.02])
PUSH_SUCCESS_L1 = 0.03
PUSH_PUCK_X = (-0.1, 0.1)
PUSH_PUCK_Y = 0.6
PUSH_HEIGHT = 0.05
"""The mocap's height while pushing: the claws' lower edge just above the table (Meta-World's
lowest hand position for this scene)."""
PUSH_HAND_START = np.array([0.0, 0.52, PUSH_HEIGHT])
PUSH_HAND_LOW = np.array([-0.17, 0.48, PUSH_HEIGHT])
PUSH_HAND_HIGH = np.array([0.17, 0.78, PUSH_HEIGHT])
PUSH_CAMERA_POS = np.array([0.0, 1.05, 0.8])
PUSH_CAMERA_TARGET = np.array([0.0, 0.6, 0.0])
PUSH_CAMERA_FOVY = 30.0

DRAWER_HORIZON = 200
DRAWER_START = np.array([0.0, 0.9, 0.0])
DRAWER_SUCCESS_Y = 0.08


def look_at(position: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The quaternion (w, x, y, z) of a MuJoCo camera at `position` looking at `target`, with the
    world's z axis up in the image."""
    import mujoco

    back = position - target
    back = back / np.linalg.norm(back)  # the camera looks along its -z axis
    right = np.cross([0.0, 0.0, 1.0], back)
    right = right / np.linalg.norm(right)
    up = np.cross(back, right)
    quaternion = np.zeros(4)
    mujoco.mju_mat2Quat(quaternion, np.stack([right, up, back], axis=1).ravel())
    return quaternion


class PushForward(MetaWorldImageEnv):
    """The paper's `push` (see the module docstring)."""

    ACTION_DIMS = 2
    CAMERA = "topview"  # Meta-World's top camera, moved and pointed by set_camera
    UPSIDE_DOWN = False
    OFF_CAMERA_BODIES = (
        "pedestal", "right_arm_base_link", "right_l0", "head", "right_l1", "right_l2", "right_l3",
    )  # fmt: skip

    def __init__(self, domain: str = "robot", render_mode: str | None = "rgb_array") -> None:
        super().__init__("push", PUSH_HORIZON, domain, render_mode)

    def configure(self, inner: Any) -> None:
        import mujoco

        inner.hand_init_pos = PUSH_HAND_START.copy()
        inner.mocap_low, inner.mocap_high = PUSH_HAND_LOW.copy(), PUSH_HAND_HIGH.copy()
        puck_z = inner.init_config["obj_init_pos"][2]
        low = np.array([PUSH_PUCK_X[0], PUSH_PUCK_Y, puck_z, *PUSH_GOAL])
        high = np.array([PUSH_PUCK_X[1], PUSH_PUCK_Y, puck_z, *PUSH_GOAL])
        inner._random_reset_space = gym.spaces.Box(low, high, dtype=np.float64)
        inner.goal_space = gym.spaces.Box(PUSH_GOAL, PUSH_GOAL, dtype=np.float64)  # not clipped away
        model = inner.model
        goal = model.site("goal").id
        model.site_type[goal] = mujoco.mjtGeom.mjGEOM_CYLINDER  # a flat disc of the success radius
        model.site_size[goal] = (PUSH_SUCCESS_L1, 0.001, 0.0)

    def set_camera(self, model: Any) -> None:
        camera = model.camera(self.CAMERA).id
        model.cam_pos[camera] = PUSH_CAMERA_POS
        model.cam_quat[camera] = look_at(PUSH_CAMERA_POS, PUSH_CAMERA_TARGET)
        model.cam_fovy[camera] = PUSH_CAMERA_FOVY

    def inner_action(self, action: np.ndarray) -> np.ndarray:
        return np.array([action[0], action[1], 0.0, 1.0], dtype=np.float32)  # height held, closed

    def succeeded(self, inner_info: dict[str, Any]) -> bool:
        return bool(np.abs(self.state[4:6] - PUSH_GOAL[:2]).sum() <= PUSH_SUCCESS_L1)

    def expert_action(self) -> np.ndarray:
        """rlv.envs.push_expert's action for the current state (for `rlv collect`)."""
        mocap = self.inner.data.mocap_pos[0]
        return push_action(self.state[:2], mocap, self.state[4:6], PUSH_GOAL).astype(np.float32)


class DrawerOpen2D(MetaWorldImageEnv):
    """The paper's `drawer-open` (see the module docstring)."""

    ACTION_DIMS = 2
    OFF_CAMERA_BODIES = ("pedestal", "right_arm_base_link", "right_l0", "head")

    def __init__(self, domain: str = "robot", render_mode: str | None = "rgb_array") -> None:
        super().__init__("drawer", DRAWER_HORIZON, domain, render_mode)

    def configure(self, inner: Any) -> None:
        inner._random_reset_space = gym.spaces.Box(DRAWER_START, DRAWER_START, dtype=np.float64)

    def inner_action(self, action: np.ndarray) -> np.ndarray:
        return np.array([0.0, action[0], action[1], -1.0], dtype=np.float32)  # no x, gripper open

    def succeeded(self, inner_info: dict[str, Any]) -> bool:
        return bool(abs(self.state[5] - self.inner._target_pos[1]) <= DRAWER_SUCCESS_Y)

    def expert_action(self) -> np.ndarray:
        """Meta-World's drawer policy's y and z (for `rlv collect`)."""
        return super().expert_action()[1:3]


TASKS: dict[str, Task] = {
    "push": Task(PushForward, PUSH_HORIZON),
    "drawer-open": Task(DrawerOpen2D, DRAWER_HORIZON),
}
"""The paper's tasks."""
