"""`fercomp init`: scaffold a course's competition repository, and its Slurm scripts.

The course repository is not fercomp: it holds `fercomp.toml`, the hand-ins, the baseline and the
grading automation, and installs fercomp as a pinned package (`ci/requirements.txt`). Every file comes
from `fercomp/course_files/`, with `@NAME@` markers filled in; the CI workflow only calls the scripts in
`ci/`, so the same scripts run locally, in a test, and on the runners.
"""

from __future__ import annotations

import re
import stat
from dataclasses import dataclass, replace
from pathlib import Path

from fercomp.version import __version__
from fercomp.config import CONFIG_NAME, CompetitionConfig, load_config
from fercomp.errors import UsageError
from fercomp.submission.fetch import SHA256_RE

FILES = Path(__file__).parent / "course_files"
BASELINE = FILES / "baseline_cnn.py"  # a copy of baselines/baseline_cnn.py that ships in the wheel (a test keeps them equal)
#: template → where it goes in the course repository
LAYOUT = {
    "fercomp.toml": CONFIG_NAME, "gitignore": ".gitignore", "submissions/README.md": "submissions/README.md",
    "github/grade.yml": ".github/workflows/grade.yml", "ci/allow-userns.sh": "ci/allow-userns.sh",
    "ci/fetch-data.sh": "ci/fetch-data.sh", "ci/check.sh": "ci/check.sh", "ci/score-shard.sh": "ci/score-shard.sh",
    "ci/pack-shard.sh": "ci/pack-shard.sh", "ci/merge.sh": "ci/merge.sh", "ci/seal.sh": "ci/seal.sh",
}
SLURM = {"slurm/score.sbatch": "slurm/score.sbatch", "slurm/merge.sbatch": "slurm/merge.sbatch",
         "slurm/submit.sh": "slurm/submit.sh", "slurm/setup.sh": "slurm/setup.sh"}
#: CPU-only torch unless the jobs ask for GPUs (as the CI workflow installs it)
TORCH = {False: ".venv/bin/python -m pip install --quiet torch torchvision --index-url https://download.pytorch.org/whl/cpu",
         True: ".venv/bin/python -m pip install --quiet torch torchvision  # CUDA builds: [slurm] gpus > 0"}
#: what setup.sh says when the jail cannot start on the login node, by fercomp.toml's [limits] sandbox
NO_JAIL = {
    "required": "the jail cannot start on this node (see above), and fercomp.toml's sandbox = required never runs a "
                "hand-in without it: a job on a node like this one stops (sandbox = required, but …) and scores nothing. "
                "The compute nodes need unprivileged user namespaces (ask the cluster's admins); "
                "srun .venv/bin/python -m fercomp.submission.jail checks one",
    "auto": "the jail cannot start on this node (see above): with sandbox = auto a compute node like it runs every "
            "hand-in unconfined, as you; the compute nodes need unprivileged user namespaces for the jail",
    "off": "the jail cannot start here, and sandbox = off never uses it: every hand-in runs unconfined, as you",
}
GRADESCOPE = {"gradescope/setup.sh": "gradescope/setup.sh", "gradescope/run_autograder": "gradescope/run_autograder"}


@dataclass(frozen=True)
class InitOptions:
    shards: int = 4  # CI matrix width (and the [slurm] default)
    fercomp_spec: str | None = None  # what ci/requirements.txt installs; None: from where this fercomp came (fercomp_origin)
    reveal: str = ""
    baseline_url: str | None = None  # the baseline's weights as a release asset …
    baseline_sha256: str | None = None  # … and their hash
    slurm: bool = False
    gradescope: bool = False  # also gradescope/ (setup.sh, run_autograder) for `fercomp gradescope build`
    supplement: str = ""  # [competition] private_supplement: the course's own faces (`fercomp supplement` makes them)
    force: bool = False


def fercomp_origin() -> tuple[str, str]:
    """(pip requirement, where it comes from) for the fercomp running now, from its PEP 610 direct_url.json."""
    import json
    from importlib import metadata

    try:
        text = metadata.distribution("fercomp").read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        text = None
    return spec_from_direct_url(json.loads(text) if text else None)


def spec_from_direct_url(info: dict | None) -> tuple[str, str]:
    """The requirement a course's CI can install for a fercomp installed as `info` (PEP 610) says, and why."""
    if not info:  # no direct URL: installed from a package index, which CI can install from too
        return f"fercomp=={__version__}", "the version installed here, from a package index"
    url = info.get("url", "")
    vcs = info.get("vcs_info")
    if vcs:
        return (f"fercomp @ {vcs.get('vcs', 'git')}+{url}@{vcs.get('commit_id')}",
                f"the {vcs.get('vcs', 'git')} URL and commit this fercomp was installed from")
    if "archive_info" in info:
        return f"fercomp @ {url}", "the archive URL this fercomp was installed from"
    folder = url.removeprefix("file://")
    remote = _git(folder, "remote", "get-url", "origin")
    commit = _git(folder, "rev-parse", "HEAD")
    if remote and commit and not remote.startswith(("/", ".", "file:")):
        if "://" not in remote:  # git@host:org/repo: runners hold no ssh key, so the https form of it
            remote = "https://" + remote.split("@", 1)[-1].replace(":", "/", 1)
        return (f"fercomp @ git+{remote}@{commit}",
                f"the local checkout {folder}: its origin remote at its HEAD commit (push that commit before CI runs)")
    return (f"fercomp @ {url}", f"the local folder {folder}, which CI runners cannot reach: "
            "run fercomp init again with --force --fercomp-spec naming a git URL or a version on an index")


def _git(folder: str, *args: str) -> str | None:
    import subprocess

    try:
        done = subprocess.run(["git", "-C", folder, *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else None


#: the baseline recipe (10 epochs of 28,709 faces, batch 400) on a 2-core CPU: benchmarks/bench_train.py timed one
#: epoch of 1,200 faces at 12.8 s (10.7 ms a face: 51 min for the recipe), a longer run 120 s an epoch of 8,000 faces
#: (15 ms a face: 72 min); the larger, from the longer run, is what an instructor should plan for
BASELINE_CPU_MINUTES = 70
#: the baseline's accuracy on PublicTest in the brief's seed notebook: the figure a trained baseline should come near
BASELINE_PUBLIC_ACCURACY = 54.6
#: every secret the generated workflow reads, and what it is for
SECRETS = {
    "FER_DATA_URL": "a link to fer2013.csv that downloads without a login (a pre-signed or share link that curl can "
                    "fetch, not a page that asks to sign in)",
    "FER_DATA_SHA256": "its sha256sum: the runners refuse another file",
    "GRADES_PASSPHRASE": "encrypts the final phase's records and board (open them with ci/seal.sh open)",
    "FERCOMP_AUDIT_SECRET": "a long random string: the final phase's audit seeds its perturbation probe with it",
    "ROSTER_URL": "for per-student grades: a link to the roster CSV (team,student_id,name,email) that downloads "
                  "without a login",
    "FER_SUPPLEMENT_URL": "optional: a private link to the course's supplement (fercomp supplement), downloadable "
                          "without a login; never published",
}


def next_steps(dest: Path, options: InitOptions) -> list[str]:
    """What the instructor does after `fercomp init`, in order, for this course (run inside it)."""
    steps = [f"cd {dest}; put the data at data/fer2013.csv for local runs (.gitignore keeps data/ out of git)"]
    if not options.baseline_url:
        steps.append("the baseline's weights (104 MB, over GitHub's file limit): fercomp train baselines/baseline_cnn.py "
                     f"--data data/fer2013.csv (about {BASELINE_CPU_MINUTES} minutes on a CPU, minutes on a GPU; it "
                     f"should reach about {BASELINE_PUBLIC_ACCURACY} % on PublicTest, and a baseline no better than "
                     "always answering Happy stops the final board), upload baselines/baseline_cnn.pt as a release "
                     "asset, and fill in the WEIGHTS_URL and WEIGHTS_SHA256 lines in baselines/baseline_cnn.py")
    if options.supplement:
        steps.append(f"keep {options.supplement} (the private supplement) out of git and off every published page: its "
                     "faces are evidence of memorisation only while no one outside the course has them; for CI, set the "
                     "secret FER_SUPPLEMENT_URL to a private link to it")
    else:
        steps.append("make a private supplement, a few hundred of the course's own labelled face photos in class folders "
                     "(happy/, sad/, …): fercomp supplement PHOTOS --out data/supplement.csv, then set private_supplement "
                     "in fercomp.toml and the secret FER_SUPPLEMENT_URL for CI. Every FER-2013 label is public: without "
                     "faces no one outside the course has, a hand-in that memorised them cannot be told from a good one")
    steps += [
        "try the live board here: fercomp leaderboard (scores the baseline and every hand-in in submissions/ on PublicTest)",
        "on GitHub, set the secrets " + "; ".join(f"{name}: {why}" for name, why in SECRETS.items())
        + "; and the variable FERCOMP_PAGES = true publishes the live board on GitHub Pages",
        "hand-ins arrive as pull requests, which every team can read (code and weights): see fercomp's docs "
        "(instructors-course) for what that exposes and the private route",
        "push: hand-ins are checked on every pull request, the public board is built nightly, and the final phase "
        "runs on a workflow dispatch with phase: final" + (" (on the cluster: slurm/submit.sh public, then final)"
                                                             if options.slurm else ""),
    ]
    return steps


def init_course(dest: Path, options: InitOptions) -> list[Path]:
    """Write the course repository into `dest` (the Slurm scripts too with options.slurm); return the files.

    An existing course (a fercomp.toml in `dest`) is refused unless `force`, except that `slurm` and
    `gradescope` alone (re)write slurm/ (from the course's own fercomp.toml) and gradescope/. Without
    `options.fercomp_spec`, CI installs fercomp from where this one came (fercomp_origin).
    """
    dest = Path(dest)
    existing = (dest / CONFIG_NAME).is_file()
    if existing and (options.slurm or options.gradescope) and not options.force:
        slurm = _write_slurm(dest, load_config(dest / CONFIG_NAME)) if options.slurm else []
        return slurm + (_write_scripts(dest, GRADESCOPE) if options.gradescope else [])
    if existing and not options.force:
        raise UsageError(f"{dest}: already a course (it has {CONFIG_NAME}); --slurm adds the Slurm scripts, "
                         "--force rewrites every file")
    if options.shards < 1:
        raise UsageError(f"--shards {options.shards}: at least 1")
    _check_baseline_weights(options)
    if options.fercomp_spec is None:
        options = replace(options, fercomp_spec=fercomp_origin()[0])
    values = {"SHARDS": str(options.shards), "SHARD_LIST": ", ".join(map(str, range(1, options.shards + 1))),
              "REVEAL": options.reveal, "FERCOMP_SPEC": options.fercomp_spec, "FERCOMP_VERSION": __version__,
              "BASELINE": "baselines/baseline_cnn.py", "SUBMISSIONS": "submissions", "DATA": "data/fer2013.csv",
              "SUPPLEMENT": options.supplement}
    try:
        written = [_render(FILES / name, dest / target, values) for name, target in LAYOUT.items()]
        written.append(_write(dest / "ci" / "requirements.txt", f"{options.fercomp_spec}\n"))
        written.append(_write(dest / "baselines" / "baseline_cnn.py", _baseline_source(options)))
        config = load_config(dest / CONFIG_NAME)
    except OSError as exc:
        raise UsageError(f"{dest}: cannot write the course ({exc.strerror}: {exc.filename})") from None
    if options.slurm:
        written += _write_slurm(dest, config)
    if options.gradescope:
        written += _write_scripts(dest, GRADESCOPE)
    return written


def _write_scripts(dest: Path, layout: dict[str, str]) -> list[Path]:
    """Copy scripts that need no values filled in, executable."""
    try:
        written = [_render(FILES / name, dest / target, {}) for name, target in layout.items()]
    except OSError as exc:
        raise UsageError(f"{dest}: cannot write the scripts ({exc.strerror}: {exc.filename})") from None
    for path in written:
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return written


def _write_slurm(dest: Path, config: CompetitionConfig) -> list[Path]:
    s, comp = config.slurm, config.competition
    values = {
        "SHARDS": str(s.shards), "LAST_TASK": str(s.shards - 1), "MEM": str(s.mem_gb), "CPUS": str(s.cpus),
        "TIME": f"{s.time_minutes // 60:02d}:{s.time_minutes % 60:02d}:00", "DEVICE": "cuda" if s.gpus else "cpu",
        "GPU_LINE": f"#SBATCH --gres=gpu:{s.gpus}" if s.gpus else "",
        "PARTITION_LINE": f"#SBATCH --partition={s.partition}" if s.partition else "",
        "BASELINE": comp.baseline, "SUBMISSIONS": comp.submissions, "TORCH_LINE": TORCH[s.gpus > 0],
        "NO_JAIL": NO_JAIL[config.limits.sandbox],
    }
    if s.shards < 1:
        raise UsageError(f"{dest / CONFIG_NAME}: [slurm] shards = {s.shards} must be at least 1")
    try:
        written = [_render(FILES / name, dest / target, values) for name, target in SLURM.items()]
        # the jobs' --output goes here, so it must exist before the first sbatch, even in a fresh clone
        return written + [_write(dest / "slurm" / "logs" / ".gitignore", "*\n!.gitignore\n")]
    except OSError as exc:
        raise UsageError(f"{dest}: cannot write the Slurm scripts ({exc.strerror}: {exc.filename})") from None


def _render(template: Path, target: Path, values: dict[str, str]) -> Path:
    text = template.read_text(encoding="utf-8")
    for key, value in values.items():
        text = text.replace(f"@{key}@", value)
    text = re.sub(r"\n\n+(?=#SBATCH|set -euo)", "\n", text) if target.suffix == ".sbatch" else text  # no blank directive lines
    left = re.findall(r"@[A-Z_]+@", text)
    if left:
        raise AssertionError(f"{template}: unfilled {left[0]}")  # a template bug, caught by the tests
    _write(target, text)
    if target.suffix in (".sh", ".sbatch"):
        target.chmod(target.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return target


def _write(target: Path, text: str) -> Path:
    from fercomp.atomic import write_text

    target.parent.mkdir(parents=True, exist_ok=True)
    write_text(target, text)
    return target


def _check_baseline_weights(options: InitOptions) -> None:
    if (options.baseline_url is None) != (options.baseline_sha256 is None):
        raise UsageError("--baseline-url and --baseline-sha256 go together (the hash pins the exact file)")
    if options.baseline_url and not options.baseline_url.startswith(("https://", "http://")):
        raise UsageError(f"--baseline-url {options.baseline_url}: an http(s) link, e.g. a release asset")
    if options.baseline_sha256 and not SHA256_RE.match(options.baseline_sha256):
        raise UsageError(f"--baseline-sha256 {options.baseline_sha256}: 64 lower-case hex digits (sha256sum's output)")


def _baseline_source(options: InitOptions) -> str:
    """fercomp's baseline, with its weights by URL: 104 MB is over GitHub's 100 MB file limit."""
    source = BASELINE.read_text(encoding="utf-8")
    if options.baseline_url:
        pin = f'WEIGHTS_URL = "{options.baseline_url}"\nWEIGHTS_SHA256 = "{options.baseline_sha256}"\n'
    else:
        pin = ("# The baseline's weights (104 MB) are over GitHub's 100 MB file limit. Train them\n"
               "# (fercomp train baselines/baseline_cnn.py --data data/fer2013.csv), upload baselines/baseline_cnn.pt\n"
               "# as a release asset, and declare it here (or run fercomp init --force with --baseline-url/-sha256):\n"
               '# WEIGHTS_URL = "https://github.com/<org>/<repo>/releases/download/v1/baseline_cnn.pt"\n'
               '# WEIGHTS_SHA256 = "<sha256sum baseline_cnn.pt>"\n')
    anchor = "\n\nclass BaselineCNN"
    if anchor not in source:
        raise AssertionError(f"{BASELINE}: no BaselineCNN class to pin weights before")
    return source.replace(anchor, f"\n{pin}{anchor}", 1)
