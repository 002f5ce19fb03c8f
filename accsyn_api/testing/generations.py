"""What differs between the two API generations the reference server speaks, as data.

The backend holds one workspace and applies one set of rules; a
:class:`Generation` record says how a front end's generation names and shows
things: the entity types its ``uri`` values use, the job statuses it knows and
lets clients set, role names, the ``*_hr`` forms, the envelope's workspace key
and the few behaviours only one generation has. Rows and operations receive the
record instead of testing the version themselves.

================================  ==========================  ===============================
what                              v1.0 (``jobs.rst``)         v3
================================  ==========================  ===============================
job entity                        ``job``                     ``transfer`` (alias ``job``)
share entity                      ``share``                   ``folder`` (alias ``share``)
workspace entity                  ``organization``            ``workspace``
job statuses                      with ``pending``            without ``pending``
restricted role                   ``user``                    ``standard``
user ``_hr``                      ``user:<email>(<role>)``    ``user:<email>[<role>](<id>)``
workspace ``_hr``                 ``organization:<code>``     ``workspace:<code>(<id>)``
endpoint                          ``organization:<id>``       ``workspace:<id>``
unfinished ``finished``           ``1970-01-01T00:00:00``     ``null``
envelope workspace key            ``domain``                  ``workspace``
================================  ==========================  ===============================
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Dict, Mapping, Optional, Tuple

from accsyn_api.protocol import names
from accsyn_api.testing.model import NEVER, V1_ENTITY_KEYS, V3_ENTITY_KEYS

__all__ = ["V1_GENERATION", "V3_GENERATION", "Generation", "generation_of"]


@dataclass(frozen=True)
class Generation:
    """How one API generation names and shows the workspace (see the module table)."""

    api_version: str
    workspace_key: str
    """The envelope key naming the workspace."""
    entity_types: Mapping[str, str]
    """Entity type as a ``uri`` names it (lower case) -> the backend's own name."""
    shown_types: Mapping[str, str]
    """The backend's entity type name -> the name this generation shows."""
    entity_keys: Mapping[str, Tuple[str, ...]]
    """The attributes of each entity type (backend names), in reply order."""
    job_statuses: Tuple[str, ...]
    job_writeable_statuses: Tuple[str, ...]
    shown_job_statuses: Mapping[str, str]
    """A stored job status -> the status this generation shows, when they differ."""
    role_names: Mapping[str, str]
    """A user's clearance (the backend's name) -> the role name this generation shows."""
    scope_names: Mapping[str, str]
    """An endpoint scope (the backend's name) -> the name this generation shows."""
    hr_forms: Mapping[str, str]
    """``*_hr`` format strings by what they name: user, organization, site, share, queue."""
    unfinished: Optional[datetime]
    """What ``finished`` holds for a job or task that has not finished."""
    task_keys_in_edit: Tuple[str, ...]
    """The keys that may name a task in a ``task/edit`` item."""
    get_entity: bool
    """Whether a find with an envelope ``id`` answers that entity whatever its state."""
    reopens_done_jobs: bool
    """Whether adding a task to a ``done`` job puts the job back to ``waiting``."""
    caller_first: bool
    """Whether a user find lists the caller first."""
    wildcards: bool
    """Whether ``*`` in an ``=``/``!=`` value is a wildcard (v3) or a character (v1.0)."""
    delete_archives: bool
    """Whether a deleted job goes to the archive (v3) rather than away for good (v1.0)."""
    job_create_extras: Tuple[str, ...]
    """Keys a job spec may hold besides the common ones (v3: ``name`` as ``code``...)."""
    job_edit_extras: Tuple[str, ...]
    """Editable job keys besides the common ones (v3: ``name``, the same as ``code``)."""
    task_create_keys: Tuple[str, ...]
    """The keys of ``task/create`` data."""

    def shown_type(self, entitytype: str) -> str:
        """The name of a backend entity type in this generation (``job`` -> ``transfer``)."""
        return self.shown_types.get(entitytype, entitytype)

    def role(self, clearance: str) -> str:
        """The role name of a clearance in this generation (``user`` -> ``standard``)."""
        return self.role_names.get(clearance, clearance)

    def scope(self, scope: str) -> str:
        """The name of an endpoint scope in this generation (``organization`` -> ``workspace``)."""
        return self.scope_names.get(scope, scope)

    def job_status(self, status: str) -> str:
        """A stored job status as this generation shows it."""
        return self.shown_job_statuses.get(status, status)

    def hr(self, what: str, **values: Any) -> str:
        """The ``*_hr`` text of ``what`` (``user``, ``site``...) filled with ``values``."""
        return self.hr_forms[what].format(**values)

    def finished_value(self, finished: datetime) -> Optional[datetime]:
        """A stored ``finished`` time as this generation shows it."""
        return self.unfinished if finished == NEVER else finished

    def deleted_result(self, entity_id: str) -> Any:
        """The ``result`` of a successful delete."""
        return [{"id": entity_id}] if self.api_version == names.V1 else True


_V1_TYPES = {name: name for name in V1_ENTITY_KEYS}

V1_GENERATION = Generation(
    api_version=names.V1,
    workspace_key=names.V1_WORKSPACE_KEY,
    entity_types=_V1_TYPES,
    shown_types={},
    entity_keys=V1_ENTITY_KEYS,
    job_statuses=names.JOB_STATUSES[names.V1],
    job_writeable_statuses=names.JOB_WRITEABLE_STATUSES[names.V1],
    shown_job_statuses={},
    role_names={},
    scope_names={},
    hr_forms={
        "user": "user:{email}({role})",
        "organization": "organization:{code}",
        "site": "site:{code}",
        "share": "share:{code}",
        "queue": "job:{domain}/{code}({id})",
        "job": "job:{code}({id})",
    },
    unfinished=NEVER,
    task_keys_in_edit=("id",),
    get_entity=False,
    reopens_done_jobs=False,
    caller_first=False,
    wildcards=False,
    delete_archives=False,
    job_create_extras=(),
    job_edit_extras=(),
    task_create_keys=("tasks", "allow_duplicates"),
)

_V3_SHOWN = {"job": "transfer", "share": "folder", "organization": "workspace"}
_V3_TYPES = {_V3_SHOWN.get(name, name): name for name in V3_ENTITY_KEYS}
_V3_TYPES.update({alias: _V3_TYPES[shown] for alias, shown in names.V3_ENTITY_ALIASES.items()})

V3_GENERATION = Generation(
    api_version=names.V3,
    workspace_key=names.V3_WORKSPACE_KEY,
    entity_types=_V3_TYPES,
    shown_types=_V3_SHOWN,
    entity_keys=V3_ENTITY_KEYS,
    job_statuses=names.JOB_STATUSES[names.V3],
    job_writeable_statuses=names.JOB_WRITEABLE_STATUSES[names.V3],
    shown_job_statuses={"pending": "waiting"},
    role_names={"user": "standard"},
    scope_names={"organization": "workspace"},
    hr_forms={
        "user": "user:{email}[{role}]({id})",
        "organization": "workspace:{code}({id})",
        "site": "site:{code}({id})",
        "share": "share:{code}({id})",
        "queue": "queue:{code}({id})",
        "job": "transfer:{code}({id})",
    },
    unfinished=None,
    task_keys_in_edit=("id", "uri"),
    get_entity=True,
    reopens_done_jobs=True,
    caller_first=True,
    wildcards=True,
    delete_archives=True,
    job_create_extras=("name", "replace_duplicates"),
    job_edit_extras=("name",),
    task_create_keys=("tasks", "allow_duplicates", "replace_duplicates"),
)

GENERATIONS: Dict[str, Generation] = {names.V1: V1_GENERATION, names.V3: V3_GENERATION}


def generation_of(api_version: str) -> Generation:
    """The :class:`Generation` of ``"1.0"`` or ``"3"``; ValueError for anything else."""
    generation = GENERATIONS.get(str(api_version).strip())
    if generation is None:
        known = ", ".join(repr(version) for version in GENERATIONS)
        raise ValueError(f"unknown API version {api_version!r}; use one of: {known}")
    return generation
