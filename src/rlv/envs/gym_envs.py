"""`gym:` environments: any Gymnasium id, `module:EnvId` ids whose module is imported first (that is
how a user's own env gets registered), and keyword arguments for `gym.make` written after the id as
a JSON object: `gym:reach_env:Reach-v0{"radius": 0.05}`.

The keyword arguments are part of the name, so the one string a run records (config.json's `env`,
a dataset's meta.json) rebuilds the same env for `--resume`, `rlv eval`, `rlv collect --policy RUN`
and `rlv data from-run`, and `rlv report` never pools runs of differently configured envs. A name
that cannot be made is one RlvError line: an unimportable module (with what to do about it), an
id nobody registered, keyword arguments that are no JSON object or that the env does not take.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym

from rlv.errors import RlvError

PREFIX = "gym:"
"""Names starting with this are Gymnasium envs."""

GYM_NAME = 'gym:[MODULE:]ID[{"keyword": value, ...}]'
"""The form of a `gym:` name, for messages."""


@dataclass(frozen=True)
class GymName:
    """A parsed `gym:` name: the id `gym.make` gets (with its `module:` part), and its keywords."""

    env_id: str
    """What gym.make gets: `Pendulum-v1`, or `reach_env:Reach-v0` (module, then the registered id)."""
    kwargs: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments of gym.make (the env's constructor's, or gym.make's own)."""

    @property
    def module(self) -> str | None:
        """The module to import before the id is looked up (None: a plain id)."""
        return self.env_id.split(":", 1)[0] if ":" in self.env_id else None

    @property
    def registered_id(self) -> str:
        """The id without its module part."""
        return self.env_id.split(":", 1)[1] if ":" in self.env_id else self.env_id


def parse_gym_name(name: str) -> GymName:
    """Split `gym:[MODULE:]ID[{JSON object}]` into the id and the keyword arguments."""
    body = name[len(PREFIX) :] if name.startswith(PREFIX) else name
    brace = body.find("{")
    env_id, text = (body, "") if brace < 0 else (body[:brace], body[brace:])
    env_id = env_id.strip()
    parts = env_id.split(":")
    if len(parts) > 2 or not all(parts) or any(char.isspace() for char in env_id):
        raise RlvError(
            f"environment {name!r}: expected {GYM_NAME}, e.g. gym:Pendulum-v1 or gym:my_envs:Reach-v0"
        )
    return GymName(env_id, parse_kwargs(text, name) if text else {})


def parse_kwargs(text: str, name: str) -> dict[str, Any]:
    """The JSON object after the id: gym.make's keyword arguments."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise RlvError(
            f"environment {name!r}: the keyword arguments after the id must be a JSON object, "
            f'e.g. {{"radius": 0.05, "image": true}} ({error.msg} at character {error.pos + 1} of {text!r})'
        ) from None
    if not isinstance(value, dict):
        raise RlvError(
            f"environment {name!r}: the keyword arguments after the id must be a JSON object "
            f'{{"name": value, ...}}, got {type(value).__name__} {text!r}'
        )
    return value


def make_gym_env(name: str, horizon: int | None, render_mode: str | None = None) -> gym.Env:
    """`gym.make` of the name's id with its keyword arguments (and `max_episode_steps=horizon`,
    `render_mode` over the name's own when given), every failure a user can fix as one RlvError line."""
    parsed = parse_gym_name(name)
    kwargs = dict(parsed.kwargs) | ({"render_mode": render_mode} if render_mode else {})
    if horizon:
        if "max_episode_steps" in kwargs:
            raise RlvError(f"environment {name!r}: max_episode_steps in its keyword arguments and a horizon "
                           f"({horizon}) both set the time limit; keep one")  # fmt: skip
        kwargs["max_episode_steps"] = horizon
    if parsed.module is not None:
        import_env_module(parsed.module, name)
    try:
        return gym.make(parsed.env_id, **kwargs)
    except gym.error.Error as error:
        raise RlvError(unknown_id(name, parsed, error)) from error
    except ImportError as error:  # a registered entry point "module:Class" whose module is missing
        raise RlvError(f"environment {name!r}: its entry point could not be imported: {error}") from error
    except TypeError as error:
        if "was raised from the environment creator" not in str(error) or "argument" not in str(error):
            raise
        given = ", ".join(parsed.kwargs) or "none"
        raise RlvError(
            f"environment {name!r}: its constructor does not take these keyword arguments "
            f"(given: {given}): {str(error).split(' was raised from')[0]}"
        ) from error


def import_env_module(module: str, name: str) -> None:
    """Import the module of a `gym:MODULE:ID` name (it registers ID with gymnasium when imported)."""
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as error:
        missing = error.name or ""
        if missing == module or module.startswith(f"{missing}."):
            path = module.replace(".", "/")
            raise RlvError(
                f"environment {name!r}: Python cannot find module {module!r}; put the directory holding "
                f"{path}.py (or the package {path}/) on PYTHONPATH, e.g. PYTHONPATH=/path/to/that/directory "
                f"rlv ..., or pip install the package that provides it"
            ) from None
        raise RlvError(
            f"environment {name!r}: module {module!r} was found but imports {missing!r}, which is not "
            f"installed in this Python ({error}); pip install it"
        ) from None
    except ImportError as error:
        raise RlvError(f"environment {name!r}: importing module {module!r} failed: {error}") from None


def unknown_id(name: str, parsed: GymName, error: Exception) -> str:
    """The message for an id gymnasium does not know, or cannot make."""
    unregistered = isinstance(error, gym.error.UnregisteredEnv) or "No registered env" in str(error)
    if parsed.module is None or not unregistered:
        return f"unknown environment {name!r}: {error}"
    return (
        f"unknown environment {name!r}: module {parsed.module!r} was imported, but it registers no "
        f"{parsed.registered_id!r} ({error}); the module must call gymnasium.register("
        f"{parsed.registered_id!r}, entry_point=...) when it is imported"
    )
