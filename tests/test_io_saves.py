"""Model files: atomic saves (a failed, killed or interrupted save keeps the old file; temporaries
of dead processes are cleaned up), symlinks, FIFOs, permissions, non-finite weights."""

import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import fastmlp as fm
from helpers_io import assert_same_model, make_model

# ----------------------------------------------------------------------------- atomic saves


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name != "model.safetensors")


# A save that fails part-way: the file size limit (RLIMIT_FSIZE) makes write() fail with EFBIG
# after `limit` bytes of the temporary file, as a full disk would.
SAVE_UNDER_FSIZE_LIMIT = r"""
import resource, signal, sys
import fastmlp as fm
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a signal
model = fm.Sequential([fm.Dense(64, 256, "relu"), fm.Dense(256, 10, "softmax")], seed=2)
limit = int(sys.argv[2])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
try:
    model.save(sys.argv[1])
except OSError as e:
    print("OSError", e.errno, e)
"""


@pytest.mark.parametrize("limit", [4, 4096, 70000])
def test_failed_write_keeps_the_old_file(tmp_path, limit):
    path = tmp_path / "model.safetensors"
    old = make_model(seed=1)
    old.save(path)
    before = path.read_bytes()
    out = subprocess.run(
        [sys.executable, "-c", SAVE_UNDER_FSIZE_LIMIT, str(path), str(limit)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert re.match(r"OSError 27 .*cannot write", out.stdout), out.stdout  # EFBIG, writing the temporary file
    assert path.read_bytes() == before
    assert_same_model(old, fm.load(path))
    assert _leftovers(tmp_path) == []  # the temporary file was removed


def _temporaries(folder):
    return sorted(p.name for p in folder.iterdir() if ".tmp-" in p.name)


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()  # reaped: no process has this pid now
    return proc.pid


def test_next_save_removes_temporaries_of_dead_processes_only(tmp_path):
    path = tmp_path / "model.safetensors"
    make_model(seed=1).save(path)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        dead = f".model.safetensors.tmp-{_dead_pid()}-a1B2c3"
        alive = f".model.safetensors.tmp-{sleeper.pid}-a1B2c3"
        mine = f".model.safetensors.tmp-{os.getpid()}-a1B2c3"  # another thread of ours may be saving
        other = f".other.safetensors.tmp-{_dead_pid()}-a1B2c3"  # another target's
        odd = f".model.safetensors.tmp-{_dead_pid()}-toolong"  # not a name we make
        for name in (dead, alive, mine, other, odd):
            (tmp_path / name).write_bytes(b"partial")
        new = make_model(seed=2)
        new.save(path)
        assert_same_model(new, fm.load(path))
        assert _temporaries(tmp_path) == sorted([alive, mine, other, odd])
    finally:
        sleeper.kill()
        sleeper.wait()


SAVE_FOREVER = r"""
import sys
import fastmlp as fm
model = fm.Sequential([fm.Dense(1000, 2000, "relu"), fm.Dense(2000, 10, "softmax")], seed=3)
print("ready", flush=True)
while True:
    model.save(sys.argv[1])
"""


def test_save_killed_midway_leaves_a_valid_file_and_the_next_save_cleans_up(tmp_path):
    path = tmp_path / "model.safetensors"
    make_model(seed=1).save(path)
    for _ in range(5):  # the kill may land between two saves: try again
        proc = subprocess.Popen([sys.executable, "-c", SAVE_FOREVER, str(path)], stdout=subprocess.PIPE, text=True)
        try:
            assert proc.stdout.readline() == "ready\n"
            deadline = time.monotonic() + 60
            while not _temporaries(tmp_path) and time.monotonic() < deadline:
                time.sleep(0.0005)
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.kill()
            proc.wait()
        fm.load(path)  # the old model or a complete new one, never a torn file
        if _temporaries(tmp_path):
            break
    else:
        pytest.skip("could not kill the saving process while it was writing")
    assert _temporaries(tmp_path) == [f".model.safetensors.tmp-{proc.pid}-" + _temporaries(tmp_path)[0][-6:]]
    make_model(seed=4).save(path)
    assert _temporaries(tmp_path) == []


def test_save_through_a_symlink_replaces_its_target(tmp_path):
    (tmp_path / "models").mkdir()
    target = tmp_path / "models" / "real.safetensors"
    make_model(seed=1).save(target)
    os.symlink("models/real.safetensors", tmp_path / "link.safetensors")  # relative, via a chain of two
    os.symlink("link.safetensors", tmp_path / "link2.safetensors")
    new = make_model(seed=2)
    new.save(tmp_path / "link2.safetensors")
    assert (tmp_path / "link2.safetensors").is_symlink() and (tmp_path / "link.safetensors").is_symlink()
    assert_same_model(new, fm.load(target))
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["real.safetensors"]
    # a dangling link: the file it names is created
    os.symlink(str(tmp_path / "models" / "later.safetensors"), tmp_path / "dangling.safetensors")
    new.save(tmp_path / "dangling.safetensors")
    assert_same_model(new, fm.load(tmp_path / "models" / "later.safetensors"))


# Loading from a FIFO must fail at once, not wait for a writer: run it with a time limit.
LOAD_AND_SAVE_FIFO = r"""
import os, sys
import fastmlp as fm
for action in (lambda: fm.load(sys.argv[1]), lambda: fm.Sequential([fm.Dense(2, 1)]).save(sys.argv[1])):
    try:
        action()
    except ValueError as e:
        print("ValueError", e)
"""


def test_fifos_and_folders_are_refused(tmp_path):
    fifo = tmp_path / "pipe.safetensors"
    os.mkfifo(fifo)
    out = subprocess.run(
        [sys.executable, "-c", LOAD_AND_SAVE_FIFO, str(fifo)], capture_output=True, text=True, timeout=60
    )
    lines = out.stdout.splitlines()
    assert len(lines) == 2 and all("not a regular file" in line for line in lines), out.stdout + out.stderr
    assert lines[0].startswith("ValueError cannot load") and lines[1].startswith("ValueError cannot save")
    for action in (lambda: fm.load(tmp_path), lambda: make_model().save(tmp_path)):
        with pytest.raises(ValueError, match="not a regular file"):
            action()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe.safetensors"]


def test_save_replaces_and_keeps_permissions(tmp_path):
    path = tmp_path / "model.safetensors"
    make_model(seed=1).save(path)
    os.chmod(path, 0o640)
    second = make_model(seed=2)
    second.save(str(path))
    assert_same_model(second, fm.load(path))
    assert (os.stat(path).st_mode & 0o777) == 0o640
    assert _leftovers(tmp_path) == []


def test_save_refuses_non_finite_weights(tmp_path):
    model = make_model()
    model.params[3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        model.save(tmp_path / "m.safetensors")
    assert list(tmp_path.iterdir()) == []
