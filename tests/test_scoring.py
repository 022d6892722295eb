"""The scorer end to end: exact numbers on a hand-computable model, the baseline's FLOPs, records."""

import json
import shutil

import numpy as np
import pytest

from fercomp.data.source import load_data
from fercomp.measure.metrics import confusion_matrix
from fercomp.records import read_record, record_path
from fercomp.scoring import score_submission
from tests.scoring_helpers import BASELINE, FIXTURES, expected_rule_predictions, fast_config


@pytest.fixture(scope="module")
def rule_scores(tmp_path_factory, small_csv):
    """Score the rule model once with canonical outputs, and once alphabetical with/without CLASS_ORDER."""
    root = tmp_path_factory.mktemp("rule")
    text = (FIXTURES / "rule_model.py").read_text()
    variants = {
        "rule": text,
        "rule_alpha": text.replace(
            "CLASS_ORDER = None", "CLASS_ORDER = ['angry', 'disgust', 'fear', 'happy', 'neutral', 'sad', 'surprise']"),
    }
    records = {}
    for name, source in variants.items():
        (root / f"{name}.py").write_text(source)
        records[name] = score_submission(root / f"{name}.py", fast_config(small_csv, root / "results"))
    return root, records


@pytest.mark.jail
def test_hand_computable_accuracy_is_exact(rule_scores, small_csv):
    _, records = rule_scores
    record = records["rule"]
    held = load_data(small_csv).select("PrivateTest")
    predicted = expected_rule_predictions(held.images)
    assert record.status == "scored", record.failure
    assert record.accuracy == np.mean(predicted == held.labels)
    assert record.confusion_matrix == confusion_matrix(held.labels, predicted, 7).tolist()
    assert record.data["split"] == "PrivateTest" and record.data["size"] == 150
    assert record.gflops == 2304 / 1e9 and record.flops["check"] == "agree", record.flops
    assert record.flops["ptflops_macs"] == 2304 and record.flops["flop_counter_mode_flops"] == 2 * 2304
    assert record.efficiency == pytest.approx(100 * record.accuracy / (2304 / 1e9))
    assert record.params_total == 1 and record.params_trainable == 0
    latency = record.latency
    # 150 images at batch 128: the first batch is warm-up, throughput comes from the remaining 22
    assert latency["throughput_batch"] == 128 and latency["throughput_images"] == 150 - 128
    assert latency["throughput_images_per_s"] == pytest.approx(22 / latency["throughput_seconds"])
    assert 0 < latency["forward_seconds"] <= latency["predict_wall_seconds"] and latency["check"] == "consistent"
    assert record.timings["predict_s"] == latency["predict_wall_seconds"]


@pytest.mark.jail
def test_class_order_maps_outputs_to_canonical(rule_scores):
    _, records = rule_scores
    assert records["rule_alpha"].submission["class_order"][4] == "Neutral"
    assert records["rule_alpha"].accuracy == records["rule"].accuracy
    assert records["rule_alpha"].confusion_matrix == records["rule"].confusion_matrix


@pytest.mark.jail
def test_record_is_written_atomically_and_reads_back(rule_scores):
    root, records = rule_scores
    path = record_path(root / "results", "rule", "PrivateTest")
    assert read_record(path) == records["rule"]
    raw = json.loads(path.read_text())
    assert raw["schema"] == "fercomp.score/5" and raw["isolation"] == ["nsjail", "seccomp"]
    assert raw["sandbox"]["kind"] == "nsjail" and raw["sandbox"]["uid"] == 65534 and len(raw["sandbox"]["policy_sha256"]) == 64
    assert raw["measured"]["graph"] == "exported" and len(raw["measured"]["exported_sha256"]) == 64
    assert not [p for p in (root / "results").iterdir() if p.name.startswith(".")]


@pytest.mark.jail
def test_baseline_flops_params_and_repeatability(tmp_path, small_csv):
    shutil.copy(BASELINE, tmp_path / "baseline_cnn.py")
    config = fast_config(small_csv, tmp_path / "results", require_weights=False)
    first = score_submission(tmp_path / "baseline_cnn.py", config)
    second = score_submission(tmp_path / "baseline_cnn.py", config)
    assert first.status == "scored", first.failure
    assert round(first.gflops, 4) == 0.3275 and first.flops["fvcore_flops"] == 327_505_392
    assert round(first.params_total / 1e6, 1) == 25.9
    assert first.flops["check"] == "agree"
    assert "random_init: scored without weights" in first.flags
    for field in ("accuracy", "confusion_matrix", "gflops", "flops", "params_total", "predictions", "intervals"):
        assert getattr(first, field) == getattr(second, field), field
    assert first.unit_signatures is None  # taken only for the final phase's audit (tests/hostile/test_audit.py)


@pytest.mark.jail
def test_missing_weights_fail_unless_allowed(tmp_path, small_csv):
    shutil.copy(BASELINE, tmp_path / "baseline_cnn.py")
    record = score_submission(tmp_path / "baseline_cnn.py", fast_config(small_csv, tmp_path / "results"))
    assert record.status == "failed" and record.failure["reason"] == "weights_missing"
    assert "baseline_cnn.pt" in record.failure["detail"]


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


@pytest.mark.skipif(not _has_cuda(), reason="needs a CUDA device (run on the GPU machine)")
def test_cuda_and_cpu_scores_agree(tmp_path, small_csv):
    """The same hand-in on cuda and cpu: the same FLOPs, the same accuracy and confusion (fp32, no TF32,
    deterministic kernels on the GPU), and the record says how the GPU was set."""
    for model in (FIXTURES / "rule_model.py", BASELINE):
        cpu = score_submission(model, fast_config(small_csv, tmp_path / "cpu", device="cpu"))
        gpu = score_submission(model, fast_config(small_csv, tmp_path / "gpu", device="cuda"))
        assert cpu.status == gpu.status == "scored", (cpu.failure, gpu.failure)
        assert gpu.environment["tf32"] is False and gpu.environment["deterministic"] is True, gpu.environment
        assert gpu.flops == cpu.flops and gpu.gflops == cpu.gflops
        assert gpu.accuracy == cpu.accuracy and gpu.confusion_matrix == cpu.confusion_matrix, model.name
        assert gpu.unit_signatures == cpu.unit_signatures, model.name  # taken on the CPU, whatever the device
