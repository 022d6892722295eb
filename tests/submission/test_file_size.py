"""The worker's file-size limit follows the hand-in's weights, between a floor and the artifact limit."""

from fercomp.submission.runner import FILE_SIZE_FLOOR_MB, file_size_limit_mb


def test_the_limit_is_twice_the_weights_and_a_margin_between_the_floor_and_the_ceiling():
    assert file_size_limit_mb(10 << 20, 4096) == FILE_SIZE_FLOOR_MB  # a small CNN: the old fixed limit
    assert file_size_limit_mb(528 << 20, 4096) == 2 * 528 + 256  # VGG16's 528 MB: its 553 MB artifact fits
    assert file_size_limit_mb(3000 << 20, 4096) == 4096  # never above the artifact limit
    assert file_size_limit_mb(None, 4096) == 4096  # random init: the code makes the weights, the ceiling holds
    assert file_size_limit_mb(10 << 20, 64) == 64  # a ceiling below the floor wins
