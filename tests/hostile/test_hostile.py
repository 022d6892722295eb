"""Each hostile submission ends as a failed or flagged record with a named reason, the run goes on,
nothing leaks, and another team's record stays byte-identical."""

import hashlib
import pickle
import shutil
from pathlib import Path

import pytest

from fercomp.scoring import score_submission
from fercomp.submission.staging import homes_root
from tests.hostile.conftest import OUTCOMES
from tests.scoring_helpers import FIXTURES, fast_config

CASES = Path(__file__).parent / "cases"

#: case → (outcome, reason). "scored" cases are attacks that had to come away with nothing.
EXPECTED = {
    "read_data_file": ("failed", "sandbox_violation"),
    "read_data_ctypes": ("scored", None),
    "umount_then_read": ("scored", None),
    "parent_proc": ("scored", None),
    "scan_disk": ("failed", "sandbox_violation"),
    "open_socket": ("failed", "sandbox_violation"),
    "spawn_process": ("failed", "sandbox_violation"),
    "fork_bomb": ("failed", "sandbox_violation"),
    "sys_exit_import": ("failed", "exited"),
    "os_exit_forward": ("failed", "exited"),
    "segfault_forward": ("failed", "crashed"),
    "hang_import": ("failed", "timeout"),
    "hang_forward": ("failed", "timeout"),
    "memory_bomb": ("failed", "memory_limit"),
    "nan_output": ("failed", "non_finite_output"),
    "imagenet_head": ("failed", "wrong_output_shape"),
    "non_tensor_output": ("failed", "wrong_output_type"),
    "integer_output": ("failed", "wrong_output_dtype"),
    "overwrite_record": ("failed", "sandbox_violation"),
    "overwrite_record_ctypes": ("scored", None),
    "tamper_clock": ("failed", "tampering"),
    "tamper_fvcore": ("failed", "tampering"),
    "syntax_error": ("failed", "syntax_error"),
    "missing_package": ("failed", "import_error"),
    "numpy_in_forward": ("flagged", "flops_disagree"),
    "fft_conv": ("flagged", "flops_disagree"),
    "custom_autograd": ("flagged", "flops_disagree"),
    "batch_one_differs": ("flagged", "latency_inconsistent"),
    "pickle_exploit": ("failed", "pickled_model_refused"),
    "huge_weights": ("failed", "weights_too_large"),
    "sys_exit_build": ("failed", "exited"),
    "tamper_flop_counter": ("failed", "tampering"),
    "tamper_cuda_sync": ("failed", "tampering"),
    "lazy_output": ("failed", "wrong_output_type"),
    "read_environment": ("scored", None),
    "read_sibling_weights": ("failed", "sandbox_violation"),
    "list_submissions": ("failed", "sandbox_violation"),
    "read_sibling_ctypes": ("scored", None),
}


class Exploit:
    """Unpickling this runs a shell command that creates a marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


@pytest.fixture(scope="module")
def arena(tmp_path_factory, small_csv):
    """A results folder that already holds another team's (victim's) record, and its hash; a stronger
    team's weights beside the cases (as in a shared submissions folder) and a sibling worker's home."""
    root = tmp_path_factory.mktemp("arena")
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


@pytest.fixture(scope="module")
def template():
    """One worker template for the corpus, as a grading run has: every case is forked from it."""
    import os

    from fercomp.submission.runner import WorkerTemplate

    with WorkerTemplate(os.cpu_count() or 1) as running:
        yield running


@pytest.mark.parametrize("start", ["fresh", "template"])
@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_hostile_case_is_contained(case, start, arena, small_csv, request):
    root, victim, victim_hash = arena
    text = (CASES / f"{case}.py").read_text()
    text = text.replace("__DATA__", str(Path(small_csv).resolve())).replace("__RESULTS__", str(root / "results"))
    text = text.replace("__ROOT__", str(root)).replace("__HOMES__", str(homes_root()))
    path = root / f"{case}.py"
    path.write_text(text)
    marker = root / f"{case}.marker"
    if case == "pickle_exploit":
        path.with_suffix(".pt").write_bytes(pickle.dumps(Exploit(marker)))
    if case == "huge_weights":
        with open(path.with_suffix(".pt"), "wb") as fh:
            fh.truncate(2 << 30)  # sparse 2 GB
    quick = case.startswith("hang_")
    config = fast_config(small_csv, root / "results", time_limit=5 if quick else 60, memory_mb=2500)

    record = score_submission(path, config, template=request.getfixturevalue("template") if start == "template" else None)

    assert record.environment.get("start_mode", start) == start  # (none when the hand-in failed before a worker)
    outcome, reason = EXPECTED[case]
    detail = (record.failure or {}).get("detail", "")
    got = record.status if not (record.status == "scored" and record.flags) else "flagged"
    flags = [flag.split(":")[0] for flag in record.flags]
    got_reason = (record.failure or {}).get("reason") if record.status == "failed" else (
        reason if reason in flags else ",".join(flags) or None)
    contained = (
        "LEAKED" not in detail
        and hashlib.sha256(victim.read_bytes()).hexdigest() == victim_hash
        and not marker.exists()
        and (root / "results" / f"{case}.PrivateTest.json").exists()
    )
    OUTCOMES[f"{case} ({start})"] = (got, str(got_reason), "yes" if contained else "NO")
    assert (got, got_reason) == (outcome, reason), (record.failure, record.flags)
    assert contained, (detail, record.flags)
