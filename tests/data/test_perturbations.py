"""The audit's secret perturbations: seeded, in range, and each kind a real change of the face."""

import numpy as np
import pytest

from fercomp.data.perturbations import KINDS, perturb, perturb_all
from fercomp.data.synth import SynthSpec, generate


@pytest.fixture(scope="module")
def faces():
    return generate(SynthSpec(n_train=0, n_public=0, n_private=60, seed=4))[0]


def test_the_same_seed_gives_the_same_images_and_kinds(faces):
    a, ka = perturb_all(faces, np.random.default_rng(1))
    b, kb = perturb_all(faces, np.random.default_rng(1))
    c, _ = perturb_all(faces, np.random.default_rng(2))
    assert np.array_equal(a, b) and np.array_equal(ka, kb) and not np.array_equal(a, c)
    assert a.dtype == np.uint8 and a.shape == faces.shape


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_changes_the_face_but_keeps_most_of_it(faces, kind):
    rng = np.random.default_rng(0)
    changes = []
    for face in faces[:10]:
        out = perturb(face, kind, rng.random(8))
        assert out.shape == (48, 48) and out.dtype == np.uint8
        changes.append(np.abs(out.astype(int) - face).mean())
    assert 0.5 < np.mean(changes) < 40  # gray levels: a visible change, not a different picture
