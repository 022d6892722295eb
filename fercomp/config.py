"""The competition config (`fercomp.toml`): frozen dataclasses, every key defaulted and documented.

Looked up in the working directory unless `--config` names a file. An unknown key or a value of the
wrong type is a one-line error naming the file, the table and the key.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from fercomp import devices
from fercomp.errors import UsageError

CONFIG_NAME = "fercomp.toml"


#: The one source of the per-submission limits (fercomp.toml [limits], the worker's Limits, the CLI).
DEFAULT_TIME_S = 600.0
DEFAULT_MEMORY_MB = 6144


@dataclass(frozen=True)
class LatencyConfig:
    """How latency is measured (every field is recorded with the result): batch-1 queries, at least
    `min_queries` and at least `min_seconds`, after `warmup_queries`."""

    min_queries: int = 100  # batch-1 queries timed, at least
    min_seconds: float = 1.0  # seconds of timed queries, at least
    warmup_queries: int = 10  # untimed batch-1 queries first

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class CompetitionSection:
    """The data, the splits, the baseline and where hand-ins and records live."""

    data: str = "data/fer2013.csv"  # the organiser's fer2013.csv or train/test folder
    held_out: str = "PrivateTest"  # the split final marks are computed on
    public_split: str = "PublicTest"  # the live leaderboard's split during the competition
    baseline: str = "baselines/baseline_cnn.py"  # the reference every mark is measured against
    submissions: str = "submissions"  # folder of team submissions (<team>.py and weights)
    results: str = "reports/results"  # where score records are kept
    device: str = "auto"  # auto, cpu, cuda, cuda:N
    # instructor-held faces (a fer2013-style CSV or a folder) that are never published: the final phase scores them
    # for the audit, the one check a memoriser of every public image cannot pass. "" for none.
    private_supplement: str = ""
    # true: the final phase refuses to run without a private_supplement (one line saying so)
    require_supplement: bool = False
    # Images found in more than one split of the data (`fercomp data info` counts them; the real fer2013.csv has
    # 519): when it matches, commands stop warning about them; 0 means none acknowledged
    known_duplicates: int = 0


@dataclass(frozen=True)
class MarksSection:
    """How records become marks: the maxima, the scale, the efficiency scheme and gate, ties and significance."""

    accuracy: float = 10.0  # maximum accuracy mark
    efficiency: float = 10.0  # maximum efficiency mark
    report: float = 30.0  # maximum report mark (from --report-marks)
    # linear: by improvement over the baseline; rank: by position among improvers; log: efficiency by
    # log(value / baseline) ÷ log(best / baseline) (accuracy stays linear)
    scale: str = "linear"
    # Who may earn an efficiency mark: "baseline" (accuracy above the baseline's; with beat_baseline = significant,
    # significantly above), "none" (anyone: the rule's literal reading), or an accuracy such as "0.6"
    efficiency_gate: str = "none"
    exclude_flagged_efficiency: bool = True  # FLOP counts flagged (disagreeing, hidden compute) get no efficiency mark
    # acc_per_gflop (official: accuracy % ÷ fvcore GFLOPs), micronet (parameters and operations relative to the
    # baseline, lower is better) or acc_per_ms (accuracy % ÷ batch-1 p50 latency in ms)
    efficiency_scheme: str = "acc_per_gflop"
    micronet_precision_credit: bool = False  # micronet: a parameter stored in 16 bits counts ½, in 8 bits ¼
    ties: str = "raw"  # raw: marks from raw accuracy; group: each tie group gets its best accuracy mark
    beat_baseline: str = "raw"  # raw: any accuracy above the baseline's; significant: only a significant one
    alpha: float = 0.05  # significance level of the paired tests (Holm-corrected along the board)
    decimals: int = 2  # marks are rounded to this many decimals; the final mark is the sum of the rounded parts
    # true: in the final phase the held-out accuracy (and so the accuracy mark, ranks and tests) is measured on the
    # held-out split and [competition] private_supplement pooled, one image one vote, so memorised public labels buy
    # only the held-out share of it; recorded in each record's settings and said on the board
    held_out_includes_supplement: bool = False
    # A baseline no better than always answering the split's majority class stops the final board (its marks would
    # reward constant answers); true builds it anyway. The public board only warns.
    allow_weak_baseline: bool = False


@dataclass(frozen=True)
class LimitsSection:
    """What one hand-in may use while it is scored, and whether the jail is required."""

    time_s: float = DEFAULT_TIME_S  # wall clock per submission
    memory_mb: int = DEFAULT_MEMORY_MB  # resident memory per worker
    sandbox: str = "auto"  # auto, required, off


@dataclass(frozen=True)
class PhasesSection:
    """The public phase scores and publishes only competition.public_split; the final phase alone touches
    competition.held_out."""

    # ISO date or date-time (UTC when no zone is given) before which a final board needs --before-reveal; "": no date
    reveal: str = ""


@dataclass(frozen=True)
class SlurmSection:
    """What `fercomp init --slurm` writes into slurm/score.sbatch (re-run it after a change)."""

    shards: int = 4  # array tasks
    time_minutes: int = 120  # per task
    mem_gb: int = 16  # per task
    cpus: int = 4  # per task
    gpus: int = 0  # per task; > 0 requests --gres=gpu:N and scores on CUDA
    partition: str = ""  # empty: the cluster's default


@dataclass(frozen=True)
class AuditSection:
    """The final phase's audit (fercomp/audit): what it scores and when it flags. Flags never change marks unless
    `withhold` is set."""

    enabled: bool = True  # the final phase scores the audit views and writes audit.{md,html,json}
    training_sample: int = 2000  # Training images scored per team for the generalisation check
    ceiling: float = 0.80  # plausibility: the best published FER-2013 results are about 73–77 % (see docs/audit.md)
    train_margin: float = 0.02  # held-out may beat the Training sample by this much before it is tested
    alpha: float = 0.001  # per check, after Holm across the teams (or pairs) it tests
    weights_cosine: float = 0.9  # near-copied weights at or above this sketch cosine
    code_similarity: float = 0.6  # copied code when both files share at least this much of their fingerprints
    weights_permuted: float = 0.5  # near-copied weights with hidden units permuted, at or above this canonical cosine
    # a permuted (and fine-tuned) copy: at least this share of the hidden units, matched one to one by their outputs
    # on the probe faces, correlate at r ≥ 0.8 with their match, by the share's lower 95 % bound (real faces: the copy
    # 0.77, honest pairs at most 0.33; docs/audit-memorisation.md)
    activations_aligned: float = 0.6
    # the course's example and starter .py files (besides the baseline): boilerplate for the copy checks, since
    # teams that start from them share that code without copying each other
    starter_files: tuple[str, ...] = ()
    # true: a team flagged on its own evidence, or the later-handed-in team of a flagged pair, gets no marks until the
    # instructor clears it; a pair whose order is unknown is only marked under review (docs/audit.md)
    withhold: bool = False
    # a CSV of team,handed_in (ISO 8601) from the course's hand-in system: orders a flagged pair (who was first)
    handed_in: str = ""
    # may teams train on the public split (PublicTest)? false: a public accuracy far above held-out is flagged too
    train_on_public: bool = False

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


#: the least [gradescope] memory_mb that `gradescope build` ships. benchmarks/bench_gradescope.py (torch 2.14, 0.5 CPU):
#: at 2048 the baseline as a hand-in passed its jail's 1,848 MB watchdog (memory_limit, score 0); at 3072 it did not
GRADESCOPE_MIN_MEMORY_MB = 3072


@dataclass(frozen=True)
class GradescopeSection:
    """What `fercomp gradescope build` puts in the autograder zip and how its run_autograder behaves."""

    daily_limit: int = 3  # counted runs per 24 h before created_at (0: no limit); failed runs are not counted
    final: bool = False  # also ship the held-out split and score it there, hidden until grades are published
    # the container's memory, set to the same in Gradescope's autograder settings: the baseline's jail needs more than
    # 1.8 GB (at Gradescope's default 768 MB no hand-in runs), so `gradescope build` refuses less than
    # GRADESCOPE_MIN_MEMORY_MB; 4 GB leaves room for hand-ins larger than the baseline
    memory_mb: int = 4096
    time_s: float = 480.0  # the whole run's budget, inside Gradescope's timeout (10 min by default, 40 at most)
    points: float = 1.0  # the Gradescope score of a hand-in that passes every check and is scored; else 0


@dataclass(frozen=True)
class CompetitionConfig:
    competition: CompetitionSection = field(default_factory=CompetitionSection)
    marks: MarksSection = field(default_factory=MarksSection)
    limits: LimitsSection = field(default_factory=LimitsSection)
    phases: PhasesSection = field(default_factory=PhasesSection)
    slurm: SlurmSection = field(default_factory=SlurmSection)
    audit: AuditSection = field(default_factory=AuditSection)
    latency: LatencyConfig = field(default_factory=LatencyConfig)  # the [latency] table: its fields as keys
    gradescope: GradescopeSection = field(default_factory=GradescopeSection)
    source: str = "(defaults)"


_TYPE_WORDS = {int: "an integer", float: "a number", str: "a string", bool: "true or false",
               tuple: "a list of strings, e.g. [\"submissions/small_cnn.py\"]"}
_CHOICES = {("marks", "scale"): ("linear", "rank", "log"), ("limits", "sandbox"): ("auto", "required", "off"),
            ("marks", "efficiency_scheme"): ("acc_per_gflop", "micronet", "acc_per_ms"), ("marks", "ties"): ("raw", "group"),
            ("marks", "beat_baseline"): ("raw", "significant")}


def _gate(value: object, where: str) -> str:
    """efficiency_gate: "baseline", "none" or an accuracy (a number 0–1, written as a number or a string)."""
    if isinstance(value, str) and value in ("baseline", "none"):
        return value
    try:
        accuracy = float(value)
    except (TypeError, ValueError):
        accuracy = -1.0
    if isinstance(value, bool) or not 0 < accuracy <= 1:
        raise UsageError(f"{where}: [marks] efficiency_gate = {value!r} must be \"baseline\", \"none\" or an accuracy "
                         "between 0 and 1, e.g. 0.6")
    return repr(accuracy)


def _section(cls, values: object, table: str, where: str):
    if not isinstance(values, dict):
        raise UsageError(f"{where}: [{table}] must be a table")
    known = {f.name: f for f in dataclasses.fields(cls)}
    out = {}
    for key, value in values.items():
        if key not in known:
            raise UsageError(f"{where}: unknown key '{key}' in [{table}]; known keys: {', '.join(known)}")
        if (table, key) == ("marks", "efficiency_gate"):  # a word or a number
            out[key] = _gate(value, where)
            continue
        expected = type(known[key].default)
        if expected is tuple:  # a list of strings (paths)
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise UsageError(f"{where}: [{table}] {key} = {value!r} must be {_TYPE_WORDS[tuple]}")
            out[key] = tuple(value)
            continue
        ok = isinstance(value, expected) or (expected is float and isinstance(value, int) and not isinstance(value, bool))
        if not ok or (expected is int and isinstance(value, bool)):
            raise UsageError(f"{where}: [{table}] {key} = {value!r} must be {_TYPE_WORDS[expected]}")
        choices = _CHOICES.get((table, key))
        if choices and value not in choices:
            raise UsageError(f"{where}: [{table}] {key} = {value!r} must be one of {', '.join(choices)}")
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
            raise UsageError(f"{where}: [{table}] {key} = {value!r} must not be negative")
        if (table, key) == ("marks", "decimals") and value > 6:
            raise UsageError(f"{where}: [marks] decimals = {value!r} must be 0–6, e.g. 2")
        if table == "audit" and key in ("ceiling", "alpha", "weights_cosine", "code_similarity", "weights_permuted",
                                        "activations_aligned") and not 0 < value <= 1:
            raise UsageError(f"{where}: [audit] {key} = {value!r} must be between 0 and 1")
        if (table, key) == ("marks", "alpha") and not 0 < value < 1:
            raise UsageError(f"{where}: [marks] alpha = {value!r} must be between 0 and 1, e.g. 0.05")
        out[key] = float(value) if expected is float else value
    return cls(**out)


def load_config(path: Path | None = None) -> CompetitionConfig:
    """Read `path`, or ./fercomp.toml if present, else the defaults."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    if path is None:
        path = Path(CONFIG_NAME)
        if not path.exists():
            return CompetitionConfig()
    elif not Path(path).is_file():
        raise UsageError(f"{path}: no such config file")
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: not valid TOML ({exc})") from None
    tables = {f.name: f.default_factory for f in dataclasses.fields(CompetitionConfig) if f.name != "source"}
    unknown = set(raw) - set(tables)
    if unknown:
        raise UsageError(f"{path}: unknown table [{sorted(unknown)[0]}]; known tables: {', '.join(tables)}")
    sections = {name: _section(type(factory()), raw.get(name, {}), name, str(path)) for name, factory in tables.items()}
    config = CompetitionConfig(**sections, source=str(path))
    devices.validate(config.competition.device, f"{path}: [competition] device =")
    try:
        reveal_time(config)
    except ValueError:
        raise UsageError(f"{path}: [phases] reveal = {config.phases.reveal!r} must be an ISO date, e.g. \"2026-12-15\" "
                         "or \"2026-12-15T09:00:00+01:00\"") from None
    return config


NO_SUPPLEMENT = ("no private supplement ([competition] private_supplement): memorisation of public faces cannot be "
                 "excluded, since every check that compares public splits is blind to a memoriser of all of them; "
                 "`fercomp supplement` makes one from the course's own photos")


def check_supplement(cfg: CompetitionConfig) -> None:
    """The settings that need a supplement refuse a final phase without one (one line each)."""
    comp, where = cfg.competition, cfg.source
    if comp.private_supplement:
        return
    if comp.require_supplement:
        raise UsageError(f"{where}: [competition] require_supplement = true but private_supplement is empty: make one "
                         "with `fercomp supplement PHOTOS` and name it in private_supplement")
    if cfg.marks.held_out_includes_supplement:
        raise UsageError(f"{where}: [marks] held_out_includes_supplement = true but [competition] private_supplement is "
                         "empty: make one with `fercomp supplement PHOTOS`, or set it to false")


def reveal_time(config: CompetitionConfig) -> dt.datetime | None:
    """When the final phase may be published (aware, UTC when the file gives no zone); None when unset."""
    text = config.phases.reveal.strip()
    if not text:
        return None
    when = dt.datetime.fromisoformat(text)
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)
