"""Transfer learning: start a model from ImageNet weights (torchvision's weights API) or any state dict.

`--pretrained imagenet` finds which torchvision architecture the submission built (the builder whose
tensors have the model's names and, but for the stem and the head, its shapes), asks torchvision for that
architecture's default ImageNet weights (downloaded once into torchvision's cache, $TORCH_HOME/hub/
checkpoints, as `weights.get_state_dict` does everywhere) and copies them in. `--init FILE` does the same
with any state dict. Either way the two changes a 48×48 gray competition needs are made as timm makes them:
an RGB stem kernel becomes a 1-channel one by summing over its colour channels, and a head whose shape
differs (1000 ImageNet classes, 7 here) keeps the model's own fresh initialisation.

Only the starting point changes: the hand-in's build_model() still builds the plain architecture, and the
trained weights file holds every tensor, so check and score never need the ImageNet file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from fercomp.errors import UsageError

#: the share of the model's tensors a starting point must fill, below which it is another architecture's
MIN_LOADED_SHARE = 0.5


@dataclass(frozen=True)
class Init:
    """What a starting point did to the model: where it came from, and which tensors it filled."""

    source: str  # "ResNet18_Weights.IMAGENET1K_V1 (…/resnet18-f37072fd.pth)" or the --init file
    loaded: tuple[str, ...]  # copied unchanged
    adapted: tuple[str, ...] = ()  # an RGB stem summed over its colour channels (or spread over more of them)
    new: tuple[str, ...] = ()  # kept the model's own initialisation (a new head: the shapes differ)
    frozen: tuple[str, ...] = field(default=())  # parameters --freeze keeps fixed

    @property
    def body(self) -> frozenset[str]:
        """The tensors that came from the starting point: they train at --body-lr."""
        return frozenset(self.loaded + self.adapted)

    def to_dict(self) -> dict:
        return {"source": self.source, "loaded": len(self.loaded), "adapted": list(self.adapted),
                "new": list(self.new), "frozen": len(self.frozen)}

    def lines(self) -> list[str]:
        """What a student reads before the first epoch."""
        out = [f"starting point: {self.source}: {len(self.loaded)} tensors loaded"]
        if self.adapted:
            out.append(f"  stem adapted to the input's channels (RGB kernel summed, as timm does): {', '.join(self.adapted)}")
        if self.new:
            out.append(f"  new (shapes differ, kept the model's own initialisation): {', '.join(self.new)}")
        if self.frozen:
            out.append(f"  frozen: {len(self.frozen)} parameter tensors")
        return out


def start_from(model: nn.Module, pretrained: str, init: str, freeze: str) -> Init | None:
    """Fill `model` from `pretrained` ("imagenet" or a torchvision weights name) or the state dict file `init`,
    then freeze what `freeze` names; None when the recipe asks for neither."""
    if pretrained and init:
        raise UsageError("--pretrained and --init both give a starting point; pass one")
    if not (pretrained or init):
        if freeze:
            raise UsageError("--freeze needs a starting point to keep: pass --pretrained imagenet or --init FILE")
        return None
    if pretrained:
        weights = imagenet_weights(model, pretrained)
        state, source = weights_state_dict(weights), f"{weights} ({cached_file(weights)})"
    else:
        state, source = _read_state_dict(Path(init)), str(init)
    done = load_adapted(model, state, source)
    frozen = _freeze(model, freeze, done)
    return Init(done.source, done.loaded, done.adapted, done.new, frozen)


def describe_start(model: nn.Module, pretrained: str, init: str) -> str:
    """Where training of `model` will start, checked without loading anything: the weights' name and whether
    torchvision's cache holds them, or the --init file; a UsageError when neither can work."""
    if pretrained:
        weights = imagenet_weights(model, pretrained)
        where = cached_file(weights)
        return f"starts from {weights} ({'in the cache' if where.is_file() else 'downloaded into ' + str(where)})"
    if init:
        if not Path(init).is_file():
            raise UsageError(f"--init {init}: no such file")
        return f"starts from {init}"
    return "starts from scratch"


def imagenet_weights(model: nn.Module, pretrained: str):
    """The torchvision weights enum member `pretrained` names: "imagenet" is the default ImageNet weights of
    the torchvision architecture `model` is; "ResNet18_Weights.IMAGENET1K_V1" names one exactly."""
    from torchvision import models

    if pretrained != "imagenet":
        try:
            return models.get_weight(pretrained)
        except (ValueError, KeyError, AttributeError) as exc:
            raise UsageError(f"--pretrained {pretrained}: not a torchvision weights name ({exc}); use imagenet or "
                             "e.g. ResNet18_Weights.IMAGENET1K_V1") from None
    name = torchvision_architecture(model)
    weights = models.get_model_weights(name).DEFAULT
    return weights


def torchvision_architecture(model: nn.Module) -> str:
    """The torchvision builder (e.g. "efficientnet_b0") whose model has `model`'s tensor names and, but for
    the stem's input channels and the head's classes, its shapes; a UsageError when there is none."""
    from torchvision import models

    cls = type(model)
    if not cls.__module__.startswith("torchvision.models"):
        raise UsageError(f"--pretrained imagenet: the model is a {cls.__name__} from {cls.__module__}, not a torchvision "
                         "model; build one in build_model() (e.g. torchvision.models.resnet18(num_classes=7)) or pass "
                         "--init FILE with a state dict of your own")
    mine = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    best, best_fit = None, (0, 0)
    for name in models.list_models(module=models):
        if models.get_model_builder(name).__module__ != cls.__module__:
            continue
        with torch.device("meta"):  # shapes only: nothing allocated, nothing initialised
            candidate = models.get_model(name)
        if type(candidate) is not cls:
            continue
        theirs = {k: tuple(v.shape) for k, v in candidate.state_dict().items()}
        # the most of the model's tensors it fills (a stem of other channels counts), then the fewest it has spare
        fit = (sum(k in theirs and _fits(theirs[k], mine[k]) for k in mine), -len(theirs.keys() - mine.keys()))
        if fit > best_fit:
            best, best_fit = name, fit
    if best is None or best_fit[0] < MIN_LOADED_SHARE * len(mine):
        raise UsageError(f"--pretrained imagenet: no torchvision architecture has this {cls.__name__}'s layers (was a "
                         "block added or removed?); pass --init FILE with a state dict that fits it")
    return best


def _fits(given: tuple, target: tuple) -> bool:
    """Whether a tensor of shape `given` fills one of shape `target`: equal, or an RGB stem kernel for other channels."""
    return given == target or (len(given) == 4 == len(target) and given[1] == 3 and given[0] == target[0]
                               and given[2:] == target[2:])


def cached_file(weights) -> Path:
    """Where torchvision keeps `weights` once downloaded: $TORCH_HOME/hub/checkpoints/<the URL's file name>."""
    from urllib.parse import urlparse

    return Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(weights.url).path).name


def weights_state_dict(weights) -> dict:
    """torchvision's own download-and-cache (`weights.get_state_dict`), read as plain tensors; one line when
    the file can neither be found in the cache nor downloaded."""
    try:
        return weights.get_state_dict(progress=True, weights_only=True)
    except OSError as exc:  # URLError, a refused connection, a full disk
        raise UsageError(f"--pretrained: {weights} is not in torchvision's cache ({cached_file(weights)}) and could not be "
                         f"downloaded from {weights.url} ({getattr(exc, 'reason', exc)}); download it on a machine "
                         "with internet and copy it there, or pass --init FILE") from None


def _read_state_dict(path: Path) -> dict:
    if not path.is_file():
        raise UsageError(f"--init {path}: no such file")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(path)
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the same mistake for the user
        raise UsageError(f"--init {path}: not a state dict torch can read safely ({str(exc).splitlines()[0][:160]})") from None
    for key in ("state_dict", "model"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict) or not any(isinstance(v, torch.Tensor) for v in obj.values()):
        raise UsageError(f"--init {path}: holds no tensors by name; save one with torch.save(model.state_dict(), path)")
    return {k.removeprefix("module."): v for k, v in obj.items() if isinstance(v, torch.Tensor)}


def adapt_input_conv(kernel: torch.Tensor, channels: int) -> torch.Tensor:
    """An RGB stem kernel (out, 3, k, k) for `channels` input channels, as timm's adapt_input_conv: summed
    over the colours for 1 (a gray face is R = G = B, so the first layer's output is unchanged), else
    the colours repeated and scaled by 3/channels."""
    if channels == 1:
        return kernel.sum(dim=1, keepdim=True)
    repeats = -(-channels // kernel.shape[1])
    return kernel.repeat(1, repeats, 1, 1)[:, :channels] * (kernel.shape[1] / channels)


def load_adapted(model: nn.Module, state: dict, source: str) -> Init:
    """Copy `state` into `model`: equal shapes as they are, an RGB stem adapted, a head of another shape left new."""
    mine = model.state_dict()
    loaded, adapted, new, fill = [], [], [], {}
    for key, target in mine.items():
        given = state.get(key)
        if given is None or not isinstance(given, torch.Tensor):
            new.append(key)
        elif given.shape == target.shape:
            fill[key] = given
            loaded.append(key)
        elif _fits(tuple(given.shape), tuple(target.shape)):
            fill[key] = adapt_input_conv(given.float(), target.shape[1]).to(target.dtype)
            adapted.append(key)
        else:
            new.append(key)
    if len(fill) < MIN_LOADED_SHARE * len(mine):
        shown = ", ".join(new[:5]) + (" …" if len(new) > 5 else "")
        raise UsageError(f"{source}: fits only {len(fill)} of the model's {len(mine)} tensors (not filled: {shown}); "
                         "it is another architecture's state dict")
    model.load_state_dict(fill, strict=False)
    return Init(source, tuple(loaded), tuple(adapted), tuple(new))


def _freeze(model: nn.Module, freeze: str, done: Init) -> tuple[str, ...]:
    """Stop the gradients of what `freeze` names: "body" (every tensor the starting point filled, so only
    the new head trains) or comma-separated module names (e.g. "features.0,features.1", "layer1")."""
    if not freeze:
        return ()
    names = [n for n, _ in model.named_parameters()]
    if freeze == "body":
        chosen = [n for n in names if n in done.body]
    else:
        chosen = []
        for prefix in (p.strip() for p in freeze.split(",") if p.strip()):
            matched = [n for n in names if n == prefix or n.startswith(prefix + ".")]
            if not matched:
                raise UsageError(f"--freeze {prefix}: the model has no parameters under that name; its top-level modules: "
                                 f"{', '.join(dict.fromkeys(n.split('.')[0] for n in names))}")
            chosen += matched
    params = dict(model.named_parameters())
    for name in chosen:
        params[name].requires_grad_(False)
    return tuple(dict.fromkeys(chosen))


def store_in_cache(weights, state: dict) -> Path:
    """Write `state` where torchvision looks for `weights` before downloading them (its cache layout); for a
    machine without internet (copy the real file there instead) and for tests."""
    from fercomp.atomic import atomic_path

    target = cached_file(weights)
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as tmp:
        torch.save(state, tmp)
    return target
