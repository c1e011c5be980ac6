"""ForkJob (issue 13): a step on the other core. Its value comes back, its exception too, and no
child outlives it: not one that hangs past the deadline, not one that dies without an answer, not
one whose caller gave up. Real forks of the test process; the clock bounds only the waits."""

from __future__ import annotations

import os
import threading
import time

import pytest
from support.procs import descendants, wait_gone

from certdoctor.net.deadline import FORK_GRACE_SECONDS, ChildLost, Deadline, ForkJob, can_fork

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="ForkJob needs os.fork")


class _Unpicklable(Exception):
    def __reduce__(self):
        raise TypeError("not today")


def test_the_value_comes_back_from_another_process():
    job = ForkJob(lambda: (os.getpid(), {"ok": [1, 2, 3]}), Deadline(10))
    pid, value = job.result()
    assert pid != os.getpid() and value == {"ok": [1, 2, 3]}
    assert job.result() == (pid, value)  # asked twice: the same answer, no second wait
    assert not wait_gone([pid], 5)


def test_what_the_child_raised_is_raised_here():
    def boom():
        raise ValueError("from the child")

    job = ForkJob(boom, Deadline(10))
    with pytest.raises(ValueError, match="from the child"):
        job.result()


def test_an_exception_that_does_not_pickle_arrives_as_its_text():
    def boom():
        raise _Unpicklable("odd one")

    with pytest.raises(ChildLost, match="_Unpicklable: odd one"):
        ForkJob(boom, Deadline(10), "the odd step").result()


def test_a_child_that_dies_without_an_answer_is_a_lost_child():
    job = ForkJob(lambda: os._exit(3), Deadline(10), "the dying step")
    with pytest.raises(ChildLost, match="without an answer"):
        job.result()


def test_a_child_past_the_deadline_is_killed_and_reaped():
    pids: list[int] = []
    read, write = os.pipe()

    def hang():
        os.write(write, str(os.getpid()).encode())
        time.sleep(60)

    d = Deadline(0.5)
    t0 = time.monotonic()
    job = ForkJob(hang, d, "the slow step")
    os.close(write)
    pids.append(int(os.read(read, 32)))
    os.close(read)
    with pytest.raises(ChildLost, match="the slow step took longer than its 0.5 s budget"):
        job.result()
    waited = time.monotonic() - t0
    assert waited < 0.5 + FORK_GRACE_SECONDS + 2.0  # bounded by the deadline and its grace
    assert not wait_gone(pids, 5)
    assert pids[0] not in descendants(os.getpid())  # reaped, not a zombie left for later


def test_cancel_kills_a_running_child_and_leaves_none():
    read, write = os.pipe()

    def hang():
        os.write(write, str(os.getpid()).encode())
        time.sleep(60)

    job = ForkJob(hang, Deadline(30))
    os.close(write)
    pid = int(os.read(read, 32))
    os.close(read)
    job.cancel()
    assert not wait_gone([pid], 5) and pid not in descendants(os.getpid())
    with pytest.raises(ChildLost, match="cancelled"):
        job.result()
    job.cancel()  # twice: nothing to do


def test_an_answer_larger_than_the_bound_is_refused():
    from certdoctor.net import deadline as dl

    with pytest.raises(ChildLost, match="too large"):
        ForkJob(lambda: b"x" * (dl.FORK_MAX_BYTES + 1), Deadline(20)).result()


def test_the_child_sees_this_process_as_it_was_at_the_fork():
    from certdoctor.net.deadline import current, within

    with within(9.0) as d:
        marker = {"state": "set before the fork"}
        job = ForkJob(lambda: (marker["state"], current() is not None and current().budget), d)
        marker["state"] = "changed after the fork"
        assert job.result() == ("set before the fork", 9.0)


def test_can_fork_only_while_this_process_runs_one_thread():
    release = threading.Event()
    t = threading.Thread(target=release.wait, args=(10,), daemon=True)
    t.start()
    try:
        assert can_fork() is False  # a lock another thread holds would stay held in the child
    finally:
        release.set()
        t.join(5)
    if threading.active_count() == 1:
        assert can_fork() is True
