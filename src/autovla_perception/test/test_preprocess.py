import array

from autovla_perception.preprocess import (
    convert_raw,
    decode_compressed,
    decode_reduction,
    encoded_size,
    FrameError,
    scale_intrinsics,
)
import cv2
import numpy as np
import pytest

BUDGET = 28 * 28 * 140


def jpeg(image_bgr, quality=95):
    return cv2.imencode('.jpg', image_bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])[1].tobytes()


def red_left_blue_right(width=1600, height=900):
    image = np.zeros((height, width, 3), np.uint8)  # BGR, as cv2 encodes it
    image[:, :width // 2, 2] = 255
    image[:, width // 2:, 0] = 255
    return image


def test_decode_reduction_never_goes_below_target_unless_allowed():
    assert decode_reduction((1600, 900), (420, 224)) == 2      # 400 < 420 rules out 1/4
    assert decode_reduction((1600, 900), (420, 224), max_upscale=1.05) == 4
    assert decode_reduction((3200, 1800), (420, 224)) == 4
    assert decode_reduction((6400, 3600), (420, 224)) == 8
    assert decode_reduction((500, 300), (420, 224)) == 1


def test_encoded_size_reads_jpeg_and_png_headers():
    image = np.zeros((45, 123, 3), np.uint8)
    assert encoded_size(jpeg(image)) == (123, 45)
    assert encoded_size(cv2.imencode('.png', image)[1].tobytes()) == (123, 45)
    with pytest.raises(FrameError) as error:
        encoded_size(b'GIF89a' + bytes(100))
    assert error.value.reason == 'corrupt_image'


def test_decode_compressed_gives_rgb_of_the_target_size():
    out = decode_compressed(jpeg(red_left_blue_right()), (1600, 900), (420, 224))
    assert isinstance(out.data, array.array) and len(out.data) == 420 * 224 * 3
    pixels = out.view()
    assert pixels.shape == (224, 420, 3)
    np.testing.assert_allclose(pixels[112, 50], [255, 0, 0], atol=3)    # red, rgb order
    np.testing.assert_allclose(pixels[112, 370], [0, 0, 255], atol=3)   # blue


def test_decode_compressed_png_and_grey_jpeg():
    png = cv2.imencode('.png', red_left_blue_right(800, 450))[1].tobytes()
    out = decode_compressed(png, (800, 450), (420, 224)).view()
    np.testing.assert_array_equal(out[112, 50], [255, 0, 0])
    grey = jpeg(np.full((450, 800), 200, np.uint8))
    np.testing.assert_allclose(decode_compressed(grey, (800, 450), (420, 224)).view()[5, 5],
                               [200, 200, 200], atol=2)


def test_truncated_jpeg_is_rejected_not_grey_filled():
    data = jpeg(red_left_blue_right())
    with pytest.raises(FrameError) as error:
        decode_compressed(data[:len(data) // 2], (1600, 900), (420, 224))
    assert error.value.reason == 'corrupt_image'


def test_garbage_after_a_valid_header_is_rejected():
    data = bytearray(jpeg(red_left_blue_right()))
    scan = data.index(b'\xff\xda')
    data[scan:-2] = b'\xff' * (len(data) - 2 - scan)  # no scan data, end marker kept
    with pytest.raises(FrameError):
        decode_compressed(bytes(data), (1600, 900), (420, 224))


def test_convert_bgr8_with_row_padding():
    bgr = np.zeros((224, 420, 3), np.uint8)
    bgr[:, :, 0] = 255  # blue in bgr order
    padded = np.full((224, 420 * 3 + 4), 77, np.uint8)
    padded[:, :420 * 3] = bgr.reshape(224, -1)
    out = convert_raw(padded.tobytes(), 'bgr8', 420, 224, 420 * 3 + 4, False, (420, 224))
    assert (out.view() == [0, 0, 255]).all()


def test_convert_mono8_and_rgb8_resized():
    mono = np.full((450, 800), 90, np.uint8)
    out = convert_raw(mono.tobytes(), 'mono8', 800, 450, 800, False, (420, 224)).view()
    assert (out == 90).all()
    rgb = np.zeros((450, 800, 3), np.uint8)
    rgb[..., 1] = 255
    out = convert_raw(rgb.tobytes(), 'rgb8', 800, 450, 2400, False, (420, 224)).view()
    assert (out == [0, 255, 0]).all()


def test_mono16_rejected_by_default_and_converted_when_asked():
    mono16 = np.full((224, 420), 0x1234, dtype='<u2')
    with pytest.raises(FrameError) as error:
        convert_raw(mono16.tobytes(), 'mono16', 420, 224, 840, False, (420, 224))
    assert error.value.reason == 'unknown_encoding'
    out = convert_raw(mono16.tobytes(), 'mono16', 420, 224, 840, False, (420, 224),
                      mono16_policy='convert')
    assert (out.view() == 0x12).all()
    big = mono16.astype('>u2')
    out = convert_raw(big.tobytes(), '16UC1', 420, 224, 840, True, (420, 224), 'convert')
    assert (out.view() == 0x12).all()


@pytest.mark.parametrize('encoding,width,height,step,size,reason', [
    ('yuv422', 4, 4, 8, 32, 'unknown_encoding'),
    ('rgb8', 0, 4, 0, 0, 'zero_size'),
    ('rgb8', 4, 4, 12, 40, 'corrupt_image'),    # 4 rows of 12 bytes need 48
    ('rgb8', 4, 4, 8, 48, 'corrupt_image'),     # step shorter than a row
])
def test_bad_raw_frames_are_rejected_with_a_reason(encoding, width, height, step, size, reason):
    with pytest.raises(FrameError) as error:
        convert_raw(bytes(size), encoding, width, height, step, False, (28, 28))
    assert error.value.reason == reason


def test_scale_intrinsics_halves_about_pixel_centres():
    assert scale_intrinsics((1000.0, 900.0, 799.5, 449.5), (1600, 900), (800, 450)) == \
        pytest.approx((500.0, 450.0, 399.5, 224.5))
