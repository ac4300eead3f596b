"""Annotation servers ``annotate push`` / ``pull`` talk to: the :data:`BACKENDS` registry.

A backend is a pair of functions; their modules are imported only when called, so the
registry stays light at import. Adding a server is one ``BACKENDS.register`` call here plus
its tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from workbench.registry import Registry

if TYPE_CHECKING:
    from workbench.annotation.config import PullConfig, PushConfig
    from workbench.annotation.results import ImportResult, PushResult
    from workbench.store.workspace import Workspace


@dataclass(frozen=True)
class Backend:
    """An annotation server.

    Attributes:
        push: ``(ws, PushConfig) -> PushResult``: send images as tasks.
        pull: ``(ws, PullConfig) -> ImportResult``: import what annotators submitted.
    """

    push: Callable[[Workspace, PushConfig], PushResult]
    pull: Callable[[Workspace, PullConfig], ImportResult]


def _ls_push(ws: Workspace, cfg: PushConfig) -> PushResult:
    from workbench.annotation.labelstudio import push

    return push(ws, cfg)


def _ls_pull(ws: Workspace, cfg: PullConfig) -> ImportResult:
    from workbench.annotation.labelstudio import pull

    return pull(ws, project=cfg.project, url=cfg.url, dry_run=cfg.dry_run)


BACKENDS: Registry[Backend] = Registry("backend")
BACKENDS.register("labelstudio", Backend(_ls_push, _ls_pull), label="Label Studio",
                  help="a Label Studio server over HTTP")
