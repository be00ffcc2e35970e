"""The files the package carries besides code: the Jinja templates and the default mapping.

The repository keeps ``templates/`` and ``mapping.yaml`` at its top level; ``adapter/templates``
and ``adapter/mapping.yaml`` are symlinks to them, which the build copies into the wheel as
files. So they are package resources in a wheel, a regular install and the editable dev
install alike, and nothing here knows where the checkout is.
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable

import jinja2
from starlette.templating import Jinja2Templates

DEFAULT_MAPPING: Traversable = files("adapter") / "mapping.yaml"


def templates(folder: str = "") -> Jinja2Templates:
    """Starlette's renderer over the packaged ``templates/``, or one of its sub-folders."""
    loader = jinja2.PackageLoader("adapter", "/".join(filter(None, ("templates", folder))))
    # The same autoescaping Starlette gives a renderer made from a directory.
    env = jinja2.Environment(loader=loader, autoescape=jinja2.select_autoescape())
    return Jinja2Templates(env=env)
