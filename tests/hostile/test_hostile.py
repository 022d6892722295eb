"""Each hostile submission ends as a failed or flagged record with a named reason, the run goes on,
nothing leaks, and another team's record stays byte-identical."""

import hashlib
import pickle
import shutil
import sysconfig
from dataclasses import replace
from pathlib import Path

import pytest

import fercomp
from fercomp.scoring import score_submission
from fercomp.submission import kernel_log, worker_forks
from fercomp.submission.staging import homes_root
from tests.conftest import write_folder
from tests.scoring_helpers import FIXTURES, fast_config

CASES = Path(__file__).parent / "cases"

#: case → (outcome, reason). "scored" cases are attacks that had to come away with nothing.
EXPECTED = {
    # BUILD_KWARGS is read by the trusted parent as a literal (ast), never run: an expression is refused
    "build_kwargs_expression": ("failed", "bad_metadata"),
    # the jail: an empty root, its own PID namespace and uid, a seccomp policy (the audit hook names the commonest)
    "read_data_file": ("failed", "sandbox_violation"),
    "read_data_ctypes": ("scored", None),
    "read_labelled_copy_libc": ("scored", None),
    "read_labelled_copy_from_file": ("scored", None),
    "umount_then_read": ("failed", "sandbox_violation"),
    "parent_proc": ("scored", None),
    "scan_disk": ("failed", "sandbox_violation"),
    "open_socket": ("failed", "sandbox_violation"),
    "spawn_process": ("failed", "sandbox_violation"),
    "fork_bomb": ("failed", "sandbox_violation"),
    "fork_exec_libc": ("failed", "sandbox_violation"),
    "ptrace_sibling": ("failed", "sandbox_violation"),
    "raw_fork_syscall": ("failed", "sandbox_violation"),
    "io_uring_setup": ("failed", "sandbox_violation"),
    "outlive_jail": ("failed", "sandbox_violation"),
    "widen_affinity": ("scored", None),  # scored pinned to core 0, as a parallel job's share (it stays there)
    "seccomp_log_forgery": ("failed", "sandbox_violation"),  # not named getpid: see SECCOMP_CALLS
    "fallocate_log": ("failed", "sandbox_violation"),
    "kill_runner": ("scored", None),
    "write_outside": ("scored", None),
    "read_previous_traces": ("scored", None),
    "overwrite_record": ("failed", "sandbox_violation"),
    "overwrite_record_ctypes": ("scored", None),
    "write_gradescope_results": ("scored", None),  # also run by tests/test_gradescope.py as a Gradescope hand-in
    "read_environment": ("scored", None),
    "read_sibling_weights": ("failed", "sandbox_violation"),
    "list_submissions": ("failed", "sandbox_violation"),
    "read_sibling_ctypes": ("scored", None),
    "forged_layer_table": ("scored", None),  # the table is advisory: `fercomp report` refuses it (test_report.py)
    "hidden_memory": ("scored", None),  # both calls answer EPERM: the case raises if either gave it memory
    "message_queue_memory": ("scored", None),  # msgget/msgsnd, semget, mq_open answer EPERM: it raises if one worked
    "weights_link_to_data": ("failed", "not_own_file"),  # <team>.pt, a link to the data file: staged, it scored 100 %
    # the process ends badly
    "sys_exit_import": ("failed", "exited"),
    "sys_exit_build": ("failed", "exited"),
    "os_exit_forward": ("failed", "exited"),
    "segfault_forward": ("failed", "crashed"),
    "hang_import": ("failed", "timeout"),
    "hang_forward": ("failed", "timeout"),
    "memory_bomb": ("failed", "memory_limit"),
    "disk_filler": ("failed", "disk_limit"),
    "deep_home": ("failed", "disk_limit"),  # 600 MB below a path too long for a walk by path
    "folder_flood": ("failed", "disk_limit"),  # folders and entries count, not only files' blocks
    "unlinked_files": ("failed", "disk_limit"),  # removed files it holds open or mapped count too
    "syntax_error": ("failed", "syntax_error"),
    "missing_package": ("failed", "import_error"),
    "pickle_exploit": ("failed", "pickled_model_refused"),
    "huge_weights": ("failed", "weights_too_large"),
    "artifact_too_large": ("failed", "artifact_too_large"),  # the file-size limit is named, never `crashed`
    # outputs, checked on the exported graph's
    "nan_output": ("failed", "non_finite_output"),
    "imagenet_head": ("failed", "wrong_output_shape"),
    "non_tensor_output": ("failed", "not_exportable"),
    "integer_output": ("failed", "wrong_output_dtype"),
    "lazy_output": ("failed", "not_exportable"),
    # forgeries: the worker only exports; the measurer, which never ran submitted code, counts the graph it scores
    "tamper_clock": ("scored", None),
    "tamper_fvcore": ("scored", None),
    "tamper_flop_counter": ("scored", None),
    "tamper_cuda_sync": ("scored", None),
    "forge_protocol": ("scored", None),
    "scale_counter_tables": ("scored", None),
    "cheap_when_traced": ("scored", None),
    "blind_roofline": ("scored", None),
    "batch_one_differs": ("scored", None),  # exported with a dynamic batch: batch 1 runs the batched graph
    "numpy_in_forward": ("failed", "not_exportable"),
    "data_dependent_flow": ("failed", "not_exportable"),
    "malicious_artifact": ("failed", "artifact_refused"),
    "fft_conv": ("flagged", "uncosted_operator"),  # the cost table has no rule for fft_rfft2, so it is never free
    "l1_nearest_neighbour": ("flagged", "flops_disagree"),  # hidden_compute: elementwise work ≫ counted multiply-adds
    "comparison_votes": ("flagged", "flops_disagree"),
    "always_happy": ("scored", None),  # its marks are the attack: tests/hostile/test_weak_baseline.py
    "lookup_table": ("flagged", "flops_disagree"),
    "dynamic_width_stripped": ("failed", "not_exportable"),  # a size that depends on the data
    "fifo_artifact": ("failed", "artifact_refused"),
    "log_symlink": ("failed", "exited"),
    # answers forged on the worker's pipe: read as protocol errors, never taken at their word (each stopped the run)
    "forge_failure_reason": ("failed", "protocol_error"),
    "deep_json_answer": ("failed", "protocol_error"),
    "malformed_answer": ("failed", "protocol_error"),
    "custom_autograd": ("flagged", "flops_disagree"),  # the graph runs 50 products; fvcore counts the one used
    "spelled_convolution": ("flagged", "flops_disagree"),  # the cost table prices floor_divide, avg_pool3d, max
    "batch_position_forgery": ("failed", "artifact_refused"),  # a size s0 - 16 (and a batch that costs more per image)
    "stateful_graph": ("failed", "not_exportable"),  # a buffer it changes on every call: answers by what ran before
    "stateful_hidden_alias": ("failed", "not_exportable"),  # the same through an alias no schema declares: seen when run
}
#: the cases the seccomp policy kills, and the call the kernel's record must name (kernel_log.py)
SECCOMP_CALLS = {"ptrace_sibling": "ptrace", "umount_then_read": "umount2", "fork_exec_libc": "clone",
                 "raw_fork_syscall": "fork", "io_uring_setup": "io_uring_setup", "outlive_jail": "prctl",
                 "fallocate_log": "fallocate", "seccomp_log_forgery": "ptrace"}
#: a frozen Linear(2304, 7): what the forgeries had to be counted at (cheap_when_traced is scored on its cheap path)
HONEST_GFLOPS = {case: 2304 * 7 / 1e9 for case in (
    "tamper_clock", "tamper_fvcore", "tamper_flop_counter", "tamper_cuda_sync", "forge_protocol", "scale_counter_tables",
    "cheap_when_traced", "blind_roofline")}
#: whether hand-ins' workers are forked from the worker template here (decided before any case runs)
WORKERS_FORKED = worker_forks.unusable(True, False) is None
SITE = Path(sysconfig.get_paths()["purelib"])
PACKAGE = Path(fercomp.__file__).parent
HOST_TRACES = [Path("/tmp/fercomp-trace"), Path("/dev/shm/fercomp-trace"), SITE / "fercomp_evil.pth", PACKAGE / "evil.py"]


class Exploit:
    """Unpickling this runs a shell command that creates a marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


@pytest.fixture(scope="module")
def arena(tmp_path_factory, small_csv, small_arrays):
    """A results folder that already holds another team's (victim's) record, and its hash; a stronger
    team's weights beside the cases (as in a shared submissions folder), a sibling worker's home, a labelled
    folder copy of the faces beside the data file, and the course checkout's ci/seal.sh."""
    write_folder(Path(small_csv).parent / "copy", *small_arrays)
    root = tmp_path_factory.mktemp("arena")
    (root / "ci").mkdir()
    (root / "ci" / "seal.sh").write_text("#!/bin/sh\necho sealed\n")
    shutil.copy(FIXTURES / "rule_model.py", root / "victim.py")
    (root / "strong_team.pt").write_bytes(b"STRONG-WEIGHTS" * 100)
    sibling = homes_root() / "worker-sibling" / "handin"
    sibling.mkdir(parents=True, exist_ok=True)
    (sibling / "strong_team.py").write_text("SIBLING-CODE = 1\n")
    record = score_submission(root / "victim.py", fast_config(small_csv, root / "results"))
    assert record.status == "scored"
    victim = root / "results" / "victim.PrivateTest.json"
    return root, victim, hashlib.sha256(victim.read_bytes()).hexdigest()


def test_every_case_file_has_an_expectation():
    assert sorted(p.stem for p in CASES.glob("*.py")) == sorted(EXPECTED)


@pytest.mark.jail
@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_hostile_case_is_contained(case, arena, small_csv, record_property):
    root, victim, victim_hash = arena
    text = (CASES / f"{case}.py").read_text()
    marker = root / f"{case}.marker"
    for key, value in {"__DATA_DIR__": Path(small_csv).resolve().parent, "__DATA_NAME__": Path(small_csv).name,
                       "__DATA__": Path(small_csv).resolve(), "__RESULTS__": root / "results", "__ROOT__": root,
                       "__HOMES__": homes_root(), "__SITE__": SITE, "__FERCOMP__": PACKAGE, "__MARKER__": marker}.items():
        text = text.replace(key, str(value))
    path = root / f"{case}.py"
    path.write_text(text)
    if case == "pickle_exploit":
        path.with_suffix(".pt").write_bytes(pickle.dumps(Exploit(marker)))
    if case == "weights_link_to_data":
        path.with_suffix(".pt").symlink_to(Path(small_csv).resolve())
    if case == "huge_weights":
        with open(path.with_suffix(".pt"), "wb") as fh:
            fh.truncate(2 << 30)  # sparse 2 GB
    quick = case.startswith("hang_")
    config = fast_config(small_csv, root / "results", time_limit=8 if quick else 60, memory_mb=2500, sandbox="required")
    config = replace(config, limits=replace(config.limits, disk_limit_mb=512,
                                            artifact_limit_mb=64 if case == "artifact_too_large" else 4096))

    record = score_submission(path, config, cores=[0] if case == "widen_affinity" else None)

    outcome, reason = EXPECTED[case]
    detail = (record.failure or {}).get("detail", "")
    got = record.status if not (record.status == "scored" and record.flags) else "flagged"
    flags = [flag.split(":")[0] for flag in record.flags]
    got_reason = (record.failure or {}).get("reason") if record.status == "failed" else (
        reason if reason in flags else ",".join(flags) or None)
    log_tail = (record.failure or {}).get("log_tail", "")
    contained = (
        "LEAKED" not in detail
        and victim.read_text()[-300:-50] not in log_tail and Path(small_csv).read_text()[-300:-50] not in log_tail
        and hashlib.sha256(victim.read_bytes()).hexdigest() == victim_hash
        and not marker.exists()
        and (root / "results" / f"{case}.PrivateTest.json").exists()
        and (root / "ci" / "seal.sh").read_text() == "#!/bin/sh\necho sealed\n"
        and not any(p.exists() for p in HOST_TRACES)
        and not _alive("fercomp-orphan")  # no process of the jail outlives it (outlive_jail names itself so)
    )
    record_property("hostile_outcome", [case, got, str(got_reason), "yes" if contained else "NO"])  # conftest's table
    assert (got, got_reason) == (outcome, reason), (record.failure, record.flags)
    assert contained, (detail, record.flags)
    if record.status == "scored":
        assert record.sandbox["kind"] == "nsjail" and record.isolation == ["nsjail", "seccomp"]
    if WORKERS_FORKED and record.environment.get("worker_start_mode") not in (None, "cached"):
        # held by a forked worker's own jail, not by a fresh one it fell back to
        assert record.environment["worker_start_mode"] == "forked", record.environment.get("worker_fresh_because")
    if case in SECCOMP_CALLS:
        named = f"killed the process for the system call {SECCOMP_CALLS[case]} (the kernel's record)"
        allowed = [named] if kernel_log.readable() else []
        if case == "seccomp_log_forgery" or not allowed:  # it spends the printk rate limit: unnamed, never misnamed
            allowed.append("which one is not known")
        assert any(text in detail for text in allowed), detail
    if case in HONEST_GFLOPS:
        assert record.gflops == pytest.approx(HONEST_GFLOPS[case], rel=0, abs=1e-15), record.flops


def _alive(name: str) -> bool:
    """Whether a process named `name` runs on this machine (a zombie, already dead, does not count)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            comm, _, state = stat.read_text().partition(" (")[2].rpartition(") ")  # pid (comm) state …
        except OSError:
            continue
        if comm == name and not state.startswith("Z"):
            return True
    return False


@pytest.mark.jail
def test_a_hand_in_leaves_nothing_for_the_next(tmp_path, small_csv):
    """Modules, globals, environment, threads, files in its home, /tmp and /dev/shm: all die with its jail."""
    config = fast_config(small_csv, tmp_path / "results", sandbox="required")
    control = score_submission(FIXTURES / "detect_traces.py", config)
    assert control.status == "scored", control.failure  # nothing to find before
    left = score_submission(FIXTURES / "leave_traces.py", config)
    assert left.status == "scored", left.failure  # it did set every trace: its import would have raised otherwise
    after = score_submission(FIXTURES / "detect_traces.py", config)
    assert after.status == "scored", after.failure
    assert not Path("/tmp/fercomp-leftover").exists() and not Path("/dev/shm/fercomp-leftover").exists()


@pytest.mark.jail
def test_a_hand_in_that_kills_everything_it_can_does_not_stop_the_board(cli, tmp_path, small_csv):
    """`fercomp score FOLDER` with a killer and a FIFO in place of an exported program in the middle writes
    every other record, and they equal a run without them (same predictions, accuracy, FLOPs)."""
    import json

    folder = tmp_path / "subs"
    folder.mkdir()
    shutil.copy(FIXTURES / "rule_model.py", folder / "a_first.py")
    shutil.copy(CASES / "kill_runner.py", folder / "b_killer.py")
    shutil.copy(CASES / "fifo_artifact.py", folder / "b_stuck.py")
    shutil.copy(FIXTURES / "rule_model.py", folder / "c_last.py")
    code, out, err = cli("score", folder, "--data", small_csv, "--split", "PrivateTest", "--out", tmp_path / "res", "--sandbox", "required",
                         "--latency-queries", "5", "--latency-seconds", "0.05", "--json")
    assert code in (0, 1), err
    records = {r["submission"]["name"]: r for r in json.loads(out)}
    assert sorted(records) == ["a_first", "b_killer", "b_stuck", "c_last"]
    assert records["b_stuck"]["failure"]["reason"] == "artifact_refused"
    alone = score_submission(FIXTURES / "rule_model.py", fast_config(small_csv, tmp_path / "alone", sandbox="required"))
    for name in ("a_first", "c_last"):
        assert records[name]["status"] == "scored"
        assert records[name]["predictions"]["sha256"] == alone.predictions["sha256"]
        assert records[name]["accuracy"] == alone.accuracy and records[name]["gflops"] == alone.gflops
