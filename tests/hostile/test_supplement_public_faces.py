"""A supplement that is partly public is no evidence against a memoriser: its public faces are dropped when read.

A course that carves its "private" supplement out of FER-2013 (of 1,000 Training faces held out, 89 are exact
duplicates of faces still in the published file), or lets a few public faces slip in, hands a memoriser of every
public face free answers on exactly the images meant to expose it. The memoriser here answers every FER-2013 face
(or its mirror) from a lookup of the published labels and guesses otherwise, as a hand-in would. Read through the
final phase's supplement view, the supplement must give it no more than chance; without the read-time duplicate
check (fercomp/data/supplement.py `read_supplement`) it scores the carved-out faces perfectly.
"""

from __future__ import annotations

import numpy as np

from fercomp.audit_passes import AuditPasses, build_views
from fercomp.data.source import load_data
from fercomp.data.supplement import Supplement, supplement_csv


def memoriser(public_images: np.ndarray, public_labels: np.ndarray):
    """A lookup keyed on the exact bytes of every public face and its mirror; a fixed guess otherwise."""
    table = {img.tobytes(): int(label) for img, label in zip(public_images, public_labels)}
    table.update({img[:, ::-1].tobytes(): int(label) for img, label in zip(public_images, public_labels)})
    return lambda images: np.array([table.get(img.tobytes(), 3) for img in images])


def test_a_partly_public_supplement_gives_a_memoriser_nothing(small_csv, tmp_path):
    data = load_data(small_csv, announce=False)
    rng = np.random.default_rng(2)
    private = np.stack([np.kron(rng.integers(0, 256, (6, 6)), np.ones((8, 8))) for _ in range(30)]).astype(np.uint8)
    private_labels = rng.integers(0, 7, 30)
    carved = np.flatnonzero(data.labels != 3)[:30]  # public faces the fixed guess would get wrong
    faces = np.concatenate([private, data.images[carved[:20]], data.images[carved[20:], :, ::-1]])
    labels = np.concatenate([private_labels, data.labels[carved]])
    path = tmp_path / "supplement.csv"
    path.write_text(supplement_csv(Supplement(faces, labels, [])))

    views, _ = build_views(AuditPasses(public_split=None, training_sample=0, supplement=str(path), perturb=False),
                           data, data.select("PrivateTest"))
    view = views[0]
    answers = memoriser(data.images, data.labels)(view.images)
    accuracy = float((answers == view.labels).mean())
    guess = float((private_labels == 3).mean())  # what its fixed guess earns on the private faces
    assert accuracy == guess, f"the memoriser scored {accuracy:.0%} on the supplement (chance of its guess {guess:.0%})"
    assert view.detail["duplicates_dropped"] == 30 and len(view.images) == 30
