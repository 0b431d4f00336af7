from autovla_common.resample import bicubic_resize
import numpy as np
import pytest


def test_a_constant_image_stays_constant_whatever_the_scale():
    image = np.full((90, 160, 3), 77, np.uint8)
    for width, height in ((42, 22), (160, 45), (400, 300), (160, 90)):
        out = bicubic_resize(image, width, height)
        assert out.shape == (height, width, 3) and (out == 77).all()


def test_shrinking_low_passes_a_fine_checkerboard():
    # A 1-pixel checkerboard shrunk 4x averages to grey (Pillow widens its kernel); a 4-tap
    # cubic that does not widen (OpenCV INTER_CUBIC) keeps sampling black and white.
    y, x = np.mgrid[0:400, 0:400]
    board = (255 * ((x + y) % 2)).astype(np.uint8)
    out = bicubic_resize(board, 100, 100).astype(int)
    assert np.abs(out[2:-2, 2:-2] - 127.5).max() <= 1


def test_matches_pillow_weights_on_a_hand_checked_case():
    # Upscaling a step 0 | 255 by 2: output 5 is centred at input 2.75 and weighs inputs 1..4
    # with the a = -0.5 cubic at -1.25, -0.25, 0.75, 1.75: -0.0703, 0.8672, 0.2266, -0.0234
    # (sum 1), so it is 255 * (0.2266 - 0.0234) = 51.8; output 6 mirrors it (203.2). The
    # negative lobes undershoot below 0 next to the edge, which clips.
    row = np.array([[0, 0, 0, 255, 255, 255]], np.uint8)
    out = bicubic_resize(row, 12, 1)[0].tolist()
    assert out[:5] == [0] * 5 and out[-5:] == [255] * 5
    assert out[5:7] == [52, 203]


@pytest.mark.parametrize('image,size', [(np.zeros((4, 4, 3), np.float32), (2, 2)),
                                        (np.zeros((4, 4, 3), np.uint8), (0, 2)),
                                        (np.zeros((0, 4), np.uint8), (2, 2))])
def test_bad_input_is_refused(image, size):
    with pytest.raises(ValueError):
        bicubic_resize(image, *size)
