"""rlv: Reinforcement Learning with Videos (Schmeckpeper et al., CoRL 2020) in PyTorch.

The Python API (docs/api.md) is `rlv.api`'s, re-exported here and loaded on first use (PEP 562):
`import rlv` or `import rlv.errors` loads neither torch nor the library, `rlv.train_preset(...)`
does. `dir(rlv)` and `__all__` list the API.

Four API functions share their names with submodules: `rlv.train`, `rlv.evaluate`,
`rlv.pretrain` and `rlv.collect` are those modules (so `rlv.train.Trainer`, `import rlv.train as
t` and monkeypatching "rlv.train.build" keep working), made callable: `rlv.train(config)` calls
`rlv.api.train(config)`, and so on.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "Dataset",
    "Episode",
    "Policy",
    "PretrainConfig",
    "RlvError",
    "SACConfig",
    "TrainConfig",
    "collect",
    "configure",
    "evaluate",
    "get_preset",
    "load_config",
    "load_dataset",
    "load_policy",
    "pretrain",
    "resume",
    "train",
    "train_preset",
    "write_dataset",
]

_LIGHT = {"RlvError": "rlv.errors", "SACConfig": "rlv.config", "TrainConfig": "rlv.config"}
"""API names whose own module loads without torch: `rlv.RlvError` does not load the library."""

if TYPE_CHECKING:  # what type checkers and editors see; at run time, __getattr__ below
    from rlv.api import (
        Dataset,
        Episode,
        Policy,
        PretrainConfig,
        RlvError,
        SACConfig,
        TrainConfig,
        collect,
        configure,
        evaluate,
        get_preset,
        load_config,
        load_dataset,
        load_policy,
        pretrain,
        resume,
        train,
        train_preset,
        write_dataset,
    )


def __getattr__(name: str) -> Any:
    """The API name `name`, imported from its module on first use (then kept here)."""
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_LIGHT.get(name, "rlv.api")), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The API, the version and the submodules imported so far."""
    loaded = [key for key, value in globals().items() if getattr(value, "__name__", "").startswith("rlv.")]
    return sorted({*__all__, "__version__", *loaded})


class _CallableModule(types.ModuleType):
    """A submodule that is also the API function of its name: calling it calls `rlv.api.<name>`."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        function = getattr(importlib.import_module("rlv.api"), self.__name__.rpartition(".")[2])
        return function(*args, **kwargs)


class _Submodule:
    """`rlv.<name>` where an API function and a submodule share the name: the submodule, made
    callable, whichever was imported first. (The import system binds `rlv.<name>` to the submodule
    when it loads it, and a plain module attribute would be the function or the module depending on
    the import order.) Setting the attribute (monkeypatch) replaces it until it is deleted."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, package: types.ModuleType | None, owner: type | None = None) -> Any:
        if package is None:
            return self
        module = importlib.import_module(f"{__name__}.{self.name}")
        replaced = vars(package).get(self.name, module)
        if replaced is not module:
            return replaced
        if type(module) is types.ModuleType:
            module.__class__ = _CallableModule
        return module

    def __set__(self, package: types.ModuleType, value: Any) -> None:
        vars(package)[self.name] = value

    def __delete__(self, package: types.ModuleType) -> None:
        vars(package).pop(self.name, None)


class _Package(types.ModuleType):
    """The `rlv` package's module type: the names that are both a submodule and an API function."""

    collect = _Submodule("collect")
    evaluate = _Submodule("evaluate")
    pretrain = _Submodule("pretrain")
    train = _Submodule("train")


sys.modules[__name__].__class__ = _Package
