"""Meta-World push and drawer opening from 48x48 RGB pixels, rendered on the CPU, in three domains.

The scenes are Meta-World v3's Sawyer scenes (MuJoCo). Each env here wraps one scene to the
Gymnasium API with uint8 image observations, a sparse reward (-1 per step, 0 on success) and its
own seeded randomness. This module holds what all of them share (building, restyling, rendering,
seeding) and Meta-World's own versions of the tasks, kept under the `-mw` names so that results
made with them stay reproducible:

- `push-mw`: 4-D actions (dx, dy, dz, gripper), the block anywhere in Meta-World's start box, a
  fixed goal, success Meta-World's (block within 5 cm of the goal); Meta-World's scripted policy.
- `drawer-open-mw`: 4-D actions, the drawer placed anywhere along x by Meta-World, success
  Meta-World's (handle within 3 cm of fully open); Meta-World's scripted policy.

The RLV paper's versions (`push`, `drawer-open`) are in rlv.envs.paper_tasks.

Three visual domains render the same physics:
- `robot`: Meta-World's look (wooden table, red block or drawer, the Sawyer arm), the agent's camera.
- `human`: a blue-cloth table on a dark floor, a yellow block or an orange drawer, warm light from
  one side, and the arm hidden except for the wrist and gripper, skin-coloured: a hand reaching in.
- `humanlike`: the human domain's scene (table, floor, object colour, warm light) with the whole
  Sawyer arm in its robot colours, as in the RLV paper's HumanLike setting.

Rendering: MuJoCo offscreen through EGL when the machine has a GPU that EGL can use, else through
OSMesa on the CPU; a `MUJOCO_GL` set by the user is kept (rlv.envs.gl chooses, the first time a
task is made, before Meta-World imports MuJoCo). Shadows, reflections and multisampling are off:
at 48x48 they are invisible, and on the CPU they cost 20x the frame (measured: 205 ms vs 10 ms
per frame). Needs the `metaworld` extra.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from rlv.envs.gl import choose_gl_backend
from rlv.errors import RlvError

SIZE = 48
DOMAINS = ("robot", "human", "humanlike")
PUSH_GOAL = np.array([0.05, 0.85, 0.02])
"""`push-mw`'s fixed goal."""
CAMERA = "corner"
CAMERA_FOVY = 30.0  # Meta-World's 45 degrees leaves the block a few pixels wide at 48x48
SKIN = np.array([0.92, 0.72, 0.58, 1.0])
HIDDEN_BODIES = (
    "controller_box", "pedestal_feet", "torso", "pedestal", "right_arm_base_link", "right_l0",
    "head", "screen", "right_l1", "right_l2", "right_l3", "right_l4", "right_l1_2",
)  # fmt: skip
SKIN_BODIES = ("right_l5", "right_l6", "right_hand", "hand", "rightpad", "leftpad")


@dataclass(frozen=True)
class Scene:
    """A Meta-World scene: its env class, its scripted policy, and which restyling it takes."""

    env: str
    policy: str
    kind: str
    """`push` or `drawer`: what `restyle` recolours."""


SCENES = {
    "push": Scene("SawyerPushEnvV3", "SawyerPushV3Policy", "push"),
    "drawer": Scene("SawyerDrawerOpenEnvV3", "SawyerDrawerOpenV3Policy", "drawer"),
}


@dataclass(frozen=True)
class Task:
    """A named image task: how to make it in a domain, and its default time limit."""

    make: Callable[[str], gym.Env]
    horizon: int


def _import_metaworld() -> Any:
    choose_gl_backend()  # before MuJoCo's renderer is imported
    try:
        import metaworld.envs
        import metaworld.policies
    except ImportError as error:
        raise RlvError(
            "the push and drawer-open tasks need Meta-World: pip install 'rlv[metaworld]'"
        ) from error
    return metaworld


def restyle_scene(model: Any, scene: str) -> None:
    """Give a Meta-World MuJoCo model the human domain's scene (table, floor, object colour, warm
    light), leaving the arm and the physics as they are: the `humanlike` domain, and part of `human`."""
    materials = {model.material(i).name: i for i in range(model.nmat)}
    table, floor = materials["table_wood"], materials["basic_floor"]
    model.mat_texid[table] = -1
    model.mat_rgba[table] = (0.35, 0.5, 0.85, 1.0)  # blue cloth
    model.mat_texid[floor] = -1
    model.mat_rgba[floor] = (0.15, 0.12, 0.1, 1.0)
    if scene == "push":
        block = model.geom("objGeom").id
        model.geom_matid[block] = -1
        model.geom_rgba[block] = (0.95, 0.8, 0.1, 1.0)  # yellow
    else:
        for name in ("drawer_col", "drawer_red", "drawer_white", "drawer_beige"):
            if name in materials:
                model.mat_rgba[materials[name]] = (0.85, 0.45, 0.15, model.mat_rgba[materials[name], 3])
    model.light_diffuse[:] = (0.55, 0.42, 0.3)  # warm
    model.light_dir[:] = (0.8, 0.3, -0.5)
    model.vis.headlight.diffuse[:] = (0.25, 0.22, 0.2)


def hide_bodies(model: Any, bodies: tuple[str, ...]) -> None:
    """Make every geom of the named bodies transparent: MuJoCo then leaves them out of its frames."""
    for geom in range(model.ngeom):
        if model.body(model.geom_bodyid[geom]).name in bodies:
            model.geom_rgba[geom, 3] = 0.0


def restyle_arm_as_hand(model: Any) -> None:
    """Hide the Sawyer arm except its wrist and gripper, which turn skin-coloured (`human` only)."""
    hide_bodies(model, HIDDEN_BODIES)
    for geom in range(model.ngeom):
        body = model.body(model.geom_bodyid[geom]).name
        if body in SKIN_BODIES and model.geom_rgba[geom, 3] > 0:
            model.geom_rgba[geom] = SKIN


def restyle(model: Any, scene: str, domain: str) -> None:
    """Change a Meta-World MuJoCo model's appearance (not its physics) to `domain`; `scene` is
    `push` (recolours the puck) or `drawer` (the drawer)."""
    if domain in ("human", "humanlike"):
        restyle_scene(model, scene)
    if domain == "human":
        restyle_arm_as_hand(model)


def release_gl(renderer: Any) -> None:
    """Free a Meta-World env's OpenGL resources in its own GL context (on `close()` or when the env
    is garbage-collected). Freed while another env's context is current, MuJoCo would delete that
    env's textures and buffers instead, and the other env would render black frames from then on."""
    viewer = renderer._viewers.pop("rgb_array", None)
    if viewer is not None:
        viewer.make_context_current()
        viewer.con.free()
        viewer.free()


class MetaWorldImageEnv(gym.Env):
    """A Meta-World scene from 48x48 pixels with a sparse reward; `domain` chooses the rendering.

    As it stands, Meta-World's own task (the `-mw` names). Subclasses change what differs: the
    scene's set-up (`configure`), the camera (`set_camera`, `UPSIDE_DOWN`), the action space
    (`ACTION_DIMS`, `inner_action`), the success test (`succeeded`) and `expert_action`.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 12}  # noqa: RUF012
    ACTION_DIMS = 4
    CAMERA = CAMERA
    UPSIDE_DOWN = True
    """Whether the camera's frames come out upside down (Meta-World's corner view does)."""
    OFF_CAMERA_BODIES: tuple[str, ...] = ()
    """Bodies the camera never sees (the arm's base and upper links, tens of thousands of mesh
    triangles): left out of rendering, which halves a frame's cost on a software renderer and leaves
    its pixels as they were (tests/test_image_envs.py compares the frames with and without)."""

    def __init__(
        self, scene: str, horizon: int, domain: str = "robot", render_mode: str | None = "rgb_array"
    ) -> None:
        if scene not in SCENES:
            raise ValueError(f"unknown Meta-World scene {scene!r}; known: {tuple(SCENES)}")
        if domain not in DOMAINS:
            raise ValueError(f"unknown domain {domain!r}; known: {DOMAINS}")
        metaworld = _import_metaworld()
        spec = SCENES[scene]
        inner = getattr(metaworld.envs, spec.env)(
            render_mode="rgb_array", camera_name=self.CAMERA, width=SIZE, height=SIZE
        )
        inner._set_task_called = True  # a single task: no benchmark sampling
        inner._partially_observable = False  # the scripted expert reads the goal from the state
        inner._freeze_rand_vec = False
        inner.seeded_rand_vec = True
        inner.max_path_length = horizon + 1  # our TimeLimit ends episodes, not Meta-World
        self.scene, self.domain, self.render_mode, self.horizon = spec.kind, domain, render_mode, horizon
        self.configure(inner)
        inner.__dict__.pop("sawyer_observation_space", None)  # cached with the goal clipped to 0
        model = inner.model
        self.set_camera(model)
        model.vis.quality.shadowsize = 0
        model.vis.quality.offsamples = 0
        restyle(model, spec.kind, domain)
        hide_bodies(model, self.OFF_CAMERA_BODIES)
        self.inner = inner
        self.expert = getattr(metaworld.policies, spec.policy)()
        self.observation_space = gym.spaces.Box(0, 255, shape=(SIZE, SIZE, 3), dtype=np.uint8)
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(self.ACTION_DIMS,), dtype=np.float32)
        self.state = np.zeros(39)
        self._scene_flags_set = False
        self._release = weakref.finalize(self, release_gl, inner.mujoco_renderer)

    def configure(self, inner: Any) -> None:
        """Set up the scene's randomness and limits before the first reset (`push-mw`: the goal)."""
        if self.scene == "push":
            space = inner._random_reset_space
            low, high = space.low.copy(), space.high.copy()
            low[3:], high[3:] = PUSH_GOAL, PUSH_GOAL
            inner._random_reset_space = gym.spaces.Box(low, high, dtype=np.float64)

    def set_camera(self, model: Any) -> None:
        """Point the camera the frames are rendered from."""
        model.cam_fovy[model.camera(self.CAMERA).id] = CAMERA_FOVY

    def inner_action(self, action: np.ndarray) -> np.ndarray:
        """Meta-World's 4-D action (dx, dy, dz, gripper) for one of ours (already clipped)."""
        return action

    def succeeded(self, inner_info: dict[str, Any]) -> bool:
        """Whether the current state is a success (`self.state` is up to date)."""
        return bool(inner_info["success"])

    def _frame(self) -> np.ndarray:
        viewer = self.inner.mujoco_renderer._get_viewer("rgb_array")  # made by the first call
        if not self._scene_flags_set:
            import mujoco

            viewer.scn.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = 0
            viewer.scn.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = 0
            self._scene_flags_set = True
        viewer.make_context_current()  # Gymnasium makes it current once, when it is made
        frame = self.inner.render()
        if self.UPSIDE_DOWN:
            frame = frame[::-1]
        return np.ascontiguousarray(frame, dtype=np.uint8)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        # Meta-World draws placements from its own np_random: derive it from ours on every reset
        self.inner._np_random = np.random.default_rng(int(self.np_random.integers(2**63)))
        self.state, _ = self.inner.reset()
        return self._frame(), {"state": self.state.copy()}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        action = np.clip(np.asarray(action, dtype=np.float32).reshape(self.ACTION_DIMS), -1.0, 1.0)
        self.state, _, _, _, inner_info = self.inner.step(self.inner_action(action))
        success = self.succeeded(inner_info)
        info = {"success": success, "state": self.state.copy()}
        return self._frame(), 0.0 if success else -1.0, False, False, info

    def render(self) -> np.ndarray:
        return self._frame()

    def expert_action(self) -> np.ndarray:
        """Meta-World's scripted policy's action for the current state (for `rlv collect`)."""
        return np.clip(self.expert.get_action(self.state), -1.0, 1.0).astype(np.float32)

    def close(self) -> None:
        self._release()
        self.inner.close()


TASKS: dict[str, Task] = {
    "push-mw": Task(lambda domain: MetaWorldImageEnv("push", 100, domain), 100),
    "drawer-open-mw": Task(lambda domain: MetaWorldImageEnv("drawer", 200, domain), 200),
}
"""Meta-World's own tasks, as rlv's `push` and `drawer-open` were before they became the paper's."""
