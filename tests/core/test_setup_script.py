"""scripts/setup on a first run: a clear refusal without root or sudo, and a line before every slow step.

The script runs for real (bash) in a copy of the checkout's layout, with a PATH of stand-ins
for the tools it calls (`id`, `sudo`, `apt-get`, `python3`) that log their arguments.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.conftest import REPO

BASICS = ("bash", "dirname", "cat", "env", "mkdir", "cp", "touch", "chmod")


def _tool(bin_dir: Path, name: str, body: str) -> None:
    path = bin_dir / name
    path.write_text("#!/bin/bash\n" + body + "\n")
    path.chmod(0o755)


def _checkout(tmp_path: Path, *, uid: int, sudo: bool) -> tuple[Path, Path, dict[str, str]]:
    """(script, log, env): a copy of scripts/setup beside a pyproject.toml, and stand-in tools on PATH."""
    root, bin_dir, log = tmp_path / "checkout", tmp_path / "bin", tmp_path / "calls.log"
    (root / "scripts").mkdir(parents=True)
    bin_dir.mkdir()
    shutil.copy(REPO / "scripts" / "setup", root / "scripts" / "setup")
    (root / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    for name in BASICS:
        found = shutil.which(name)
        assert found, name
        (bin_dir / name).symlink_to(found)
    _tool(bin_dir, "id", f'[ "$1" = -u ] && echo {uid} || echo alice')
    _tool(bin_dir, "apt-get", f'echo "apt-get $*" >> {log}')
    if sudo:
        _tool(bin_dir, "sudo", f'echo "sudo $1" >> {log}; exec "$@"')
    venv_python = f'echo "venv-python $*" >> {log}'
    python3 = f"""
case "$1" in
  -c) exit 0 ;;
  -m) echo "python3 $*" >> {log}; mkdir -p "$3/bin"; printf '#!/bin/bash\\n%s\\n' '{venv_python}' > "$3/bin/python"
      chmod +x "$3/bin/python" ;;
esac"""
    _tool(bin_dir, "python3", python3)
    return root / "scripts" / "setup", log, {"PATH": str(bin_dir)}


def test_not_root_without_sudo_says_what_to_install_and_stops(tmp_path: Path) -> None:
    script, log, env = _checkout(tmp_path, uid=1000, sudo=False)
    result = subprocess.run([str(script)], env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert "sudo: command not found" not in result.stderr
    assert "this user (alice) is not root and has no sudo" in result.stderr
    assert "missing: " in result.stderr and "socat" in result.stderr  # socat is not on this PATH
    assert "    apt-get update && apt-get install -y --no-install-recommends " in result.stderr
    assert not log.exists()  # nothing was attempted


def test_first_run_announces_each_step_and_lets_apt_and_pip_talk(tmp_path: Path) -> None:
    script, log, env = _checkout(tmp_path, uid=1000, sudo=True)
    result = subprocess.run([str(script)], env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    said = [line for line in result.stdout.splitlines() if line.startswith("setup: ")]
    assert said == [
        "setup: not root: using sudo for apt-get (it may ask for your password)",
        "setup: apt-get update (reading the package lists)",
        said[2],
        "setup: creating the virtualenv .venv",
        "setup: pip: upgrading pip in .venv",
        "setup: pip: installing the project and its test dependencies into .venv (a few minutes the first time)",
        "setup: done: .venv is ready",
    ]
    assert said[2].startswith("setup: apt-get install: ") and "socat" in said[2]
    calls = log.read_text().splitlines()
    assert calls[:4] == ["sudo apt-get", "apt-get update", "sudo env", calls[3]]
    assert calls[3].startswith("apt-get install -y --no-install-recommends ") and "socat" in calls[3]
    assert calls[4:] == [
        "python3 -m venv .venv",
        "venv-python -m pip install --upgrade pip",
        "venv-python -m pip install -e .[test]",
    ]  # no -q: pip shows each package (and its progress bar on a terminal)
    again = subprocess.run([str(script)], env=env, capture_output=True, text=True, timeout=30)
    assert again.returncode == 0 and "pip" not in again.stdout  # up to date: nothing to install
