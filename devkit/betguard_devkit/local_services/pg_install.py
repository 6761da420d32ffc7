"""Finding, installing and preparing the PostgreSQL server binaries and system user.

Separate from the server class because ``make test`` runs it up front
(``python -m betguard_devkit.local_services --ensure``) on machines that may lack PostgreSQL.
"""

from __future__ import annotations

import grp
import logging
import os
import pwd
import re
import shutil
import stat
import subprocess
from pathlib import Path

from ._common import ServiceError

log = logging.getLogger(__name__)

PG_USER = "postgres"
_SERVER_BINARIES = ("initdb", "pg_ctl", "postgres")


def find_pg_bindir() -> Path | None:
    """Locate server binaries: pg_config, then newest Debian layout, then PATH.

    pg_config comes from libpq-dev and may belong to another major version than the
    installed server, so every candidate is checked for initdb/pg_ctl/postgres.
    """
    for candidate in (_bindir_from_pg_config(), *_debian_bindirs(), _bindir_from_path()):
        if candidate and all((candidate / name).is_file() for name in _SERVER_BINARIES):
            return candidate
    return None


def _bindir_from_pg_config() -> Path | None:
    exe = shutil.which("pg_config")
    if not exe:
        return None
    try:
        out = subprocess.run(  # noqa: S603
            [exe, "--bindir"], capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return Path(out.stdout.strip())


def _debian_bindirs() -> list[Path]:
    def version(path: Path) -> tuple[int, ...]:
        return tuple(int(p) for p in re.findall(r"\d+", path.parent.name))

    return sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=version, reverse=True)


def _bindir_from_path() -> Path | None:
    exe = shutil.which("initdb")
    return Path(exe).resolve().parent if exe else None


def ensure_postgres_installed() -> Path:
    """Return the server bindir, installing Debian's ``postgresql`` package if we may.

    A fresh machine may lack PostgreSQL; as root with apt-get we fix that (bounded),
    otherwise we fail with the name of what to install.
    """
    bindir = find_pg_bindir()
    if bindir is None:
        apt = shutil.which("apt-get")
        if os.geteuid() != 0 or not apt:
            raise ServiceError(
                "PostgreSQL server binaries not found (initdb, pg_ctl, postgres); install "
                "them, e.g. `apt-get install -y postgresql` on Debian/Ubuntu."
            )
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for args, timeout in (([apt, "update"], 600), ([apt, "install", "-y", "postgresql"], 900)):
            log.warning("running %s", " ".join(args))
            subprocess.run(args, check=True, env=env, timeout=timeout)  # noqa: S603
        bindir = find_pg_bindir()
        if bindir is None:
            raise ServiceError("installed `postgresql` but still found no server binaries")
    if os.geteuid() == 0:
        _ensure_pg_user()
    return bindir


def ensure_promtool_installed() -> str | None:
    """Install Prometheus' ``promtool`` (Debian's ``prometheus``) so the alert rules are
    checked by the real tool; where it cannot be installed, the rules test parses them."""
    found = shutil.which("promtool")
    apt = shutil.which("apt-get")
    if found or os.geteuid() != 0 or not apt:
        return found
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    args = [apt, "install", "-y", "--no-install-recommends", "prometheus"]
    for attempt in (args, [apt, "update"], args):
        done = subprocess.run(attempt, env=env, timeout=600, check=False,  # noqa: S603
                              capture_output=True)
        if attempt is args and done.returncode == 0:
            break
    return shutil.which("promtool")


def _ensure_pg_user() -> None:
    """Create the ``postgres`` system user that root needs to run the server as."""
    try:
        pwd.getpwnam(PG_USER)
    except KeyError:
        subprocess.run(  # noqa: S603
            ["useradd", "--system", "--user-group", "--no-create-home", PG_USER],  # noqa: S607
            check=True,
            timeout=60,
        )


def pg_ids() -> tuple[int, int]:
    try:
        entry = pwd.getpwnam(PG_USER)
    except KeyError:
        raise ServiceError(
            f"running as root needs a `{PG_USER}` system user to run PostgreSQL as; "
            "install the postgresql package or run `useradd --system postgres`"
        ) from None
    return entry.pw_uid, entry.pw_gid


def grant_traverse(path: Path, uid: int, gid: int) -> None:
    """Add o+x to ancestors the postgres user could not otherwise pass through."""
    groups = {gid} | {g.gr_gid for g in grp.getgrall() if PG_USER in g.gr_mem}
    for parent in reversed(path.parents):
        st = parent.stat()
        if st.st_uid == uid:
            bit = stat.S_IXUSR
        elif st.st_gid in groups:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not st.st_mode & bit:
            log.warning("adding search permission for %s on %s", PG_USER, parent)
            os.chmod(parent, stat.S_IMODE(st.st_mode) | stat.S_IXOTH)
