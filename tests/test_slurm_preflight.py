"""fercomp.slurm, the checks slurm/submit.sh runs before it queues anything: Slurm's formats, and what sinfo reports
against what the job scripts ask (the real cluster is in test_slurm_cluster.py)."""

import subprocess

import pytest

from fercomp.errors import UsageError
from fercomp.slurm import Node, Request, check_request, gpu_count, megabytes, minutes, parse_nodes, preflight, read_request


@pytest.mark.parametrize("text, expected", [("45", 45), ("30:00", 30), ("0:30", 1), ("2:00:00", 120), ("02:00:01", 121),
                                            ("1-12", 2160), ("2-00:30", 2910), ("1-00:00:00", 1440), ("infinite", None),
                                            ("UNLIMITED", None)])
def test_minutes_reads_every_slurm_time_format(text, expected):
    assert minutes(text) == expected


def test_memory_and_gpu_formats():
    assert (megabytes("16G"), megabytes("4000"), megabytes("512M"), megabytes("1T")) == (16384, 4000, 512, 1048576)
    assert (gpu_count("(null)"), gpu_count("gpu:2"), gpu_count("gpu:a100:4(S:0-1)"), gpu_count("gpu:1,mps:100")) == (0, 2, 4, 1)
    with pytest.raises(UsageError, match="--mem=lots"):
        megabytes("lots")


NODES = parse_nodes("debug*|2|4000|(null)|1:00:00\ndebug*|4|2000|(null)|1:00:00\ngpu|8|64000|gpu:a100:2(S:0)|2-00:00:00\n")


def test_a_request_that_fits_says_where():
    assert "fit partition debug" in check_request(Request("s", cpus=2, mem_mb=4000, minutes=60), NODES)
    assert "fit partition gpu" in check_request(Request("s", cpus=8, mem_mb=64000, gpus=2, minutes=2880, partition="gpu"), NODES)


@pytest.mark.parametrize("request_, message", [
    (Request("score.sbatch", cpus=5), "score.sbatch asks --cpus-per-task=5, but partition debug's largest node has 4 CPUs"),
    (Request("score.sbatch", mem_mb=16384), "asks --mem=16384 MB, but partition debug's largest node has 4000 MB"),
    (Request("score.sbatch", gpus=1), "asks --gres=gpu:1, but partition debug's largest node has 0 GPUs"),
    (Request("score.sbatch", cpus=4, mem_mb=4000), "no node of partition debug has 4 CPUs, 4000 MB and 0 GPUs together"),
    (Request("score.sbatch", minutes=120), "asks --time of 120 min, but partition debug's limit is 60 min"),
    (Request("score.sbatch", partition="bigmem"), "sinfo lists no partition bigmem"),
])
def test_a_request_no_node_can_run_is_refused_with_one_line(request_, message):
    with pytest.raises(UsageError) as caught:
        check_request(request_, NODES)
    assert message in caught.value.message and "\n" not in caught.value.message
    assert "partition" in caught.value.message and "fercomp init . --slurm" in caught.value.message


def test_the_job_scripts_requests_are_read_from_their_sbatch_lines(cli, tmp_path):
    root = tmp_path / "course"
    assert cli("init", root)[0] == 0
    toml = (root / "fercomp.toml").read_text().replace("gpus = 0", "gpus = 2").replace('partition = ""', 'partition = "gpu"')
    (root / "fercomp.toml").write_text(toml)
    assert cli("init", root, "--slurm")[0] == 0
    score = read_request(root / "slurm" / "score.sbatch")
    assert score == Request(str(root / "slurm" / "score.sbatch"), cpus=4, mem_mb=16384, minutes=120, gpus=2, partition="gpu")
    merge = read_request(root / "slurm" / "merge.sbatch")  # the merge: [slurm]'s time, memory and partition, 1 CPU, no GPU
    assert (merge.cpus, merge.mem_mb, merge.minutes, merge.gpus, merge.partition) == (1, 16384, 120, 0, "gpu")
    assert "torch torchvision  # CUDA" in (root / "slurm" / "setup.sh").read_text()
    for script in ("setup.sh", "submit.sh", "score.sbatch", "merge.sbatch"):  # every generated script parses
        parsed = subprocess.run(["bash", "-n", str(root / "slurm" / script)], capture_output=True, text=True)
        assert parsed.returncode == 0, parsed.stderr


def test_preflight_refuses_the_final_phase_before_the_reveal_and_missing_data(cli, tmp_path):
    root = tmp_path / "course"
    assert cli("init", root, "--reveal", "2099-01-01", "--slurm")[0] == 0
    sinfo = lambda partition: "debug*|8|32000|(null)|infinite\n"
    with pytest.raises(UsageError, match=r"revealed on 2099-01-01 .*; REVEAL_OK=1 slurm/submit.sh final builds it earlier"):
        preflight(root, "final", False, sinfo=sinfo)
    with pytest.raises(UsageError, match=r"data/fer2013.csv: no data"):
        preflight(root, "final", True, sinfo=sinfo)
    with pytest.raises(UsageError, match="--phase nightly: expected public or final"):
        preflight(root, "nightly", False, sinfo=sinfo)


def test_nodes_of_a_heterogeneous_partition():
    assert NODES[2] == Node("gpu", 8, 64000, 2, 2880)
    with pytest.raises(UsageError, match=r"sinfo printed 'debug\*\|2\|N/A\|\(null\)\|1:00:00', not partition"):
        parse_nodes("debug*|2|N/A|(null)|1:00:00\n")
