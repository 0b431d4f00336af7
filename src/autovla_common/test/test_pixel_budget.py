from autovla_common.pixel_budget import is_budget_size, smart_resize
import pytest

BUDGET = 28 * 28 * 140   # the released AutoVLA model's per-frame pixel budget


def test_nuscenes_frame_in_the_official_budget():
    # 900x1600 scaled by sqrt(1.44e6 / 109760) = 3.622 -> 248.5 x 441.7 -> floor to 28s.
    assert smart_resize(900, 1600, BUDGET, BUDGET) == (224, 420)


def test_shrinking_rounds_down_to_patches():
    # 56x84 = 4704 > 3136: scaled by 1.2247 -> 45.7 x 68.6 -> floor to 28 x 56.
    assert smart_resize(56, 84, 3136, 3136) == (28, 56)


def test_a_tiny_image_grows_to_the_minimum():
    # sqrt(109760 / 784) = 11.83 -> ceil(28 * 11.83 / 28) = 12 patches a side.
    assert smart_resize(28, 28, BUDGET, BUDGET) == (336, 336)


@pytest.mark.parametrize('height,width', [(900, 1600), (720, 1280), (1080, 1920), (480, 640),
                                          (1200, 1920), (100, 3000)])
def test_sides_are_patch_multiples_within_budget(height, width):
    new_height, new_width = smart_resize(height, width, 28 * 28 * 4, BUDGET)
    assert new_height % 28 == 0 and new_width % 28 == 0
    assert new_height * new_width <= BUDGET
    # The aspect ratio survives up to one patch of rounding.
    assert abs(new_width / new_height - width / height) < 28 / new_height * width / height + 0.2


@pytest.mark.parametrize('height,width,message', [(0, 100, '100x0'), (10, 5000, 'aspect')])
def test_empty_and_absurd_images_are_refused(height, width, message):
    with pytest.raises(ValueError, match=message):
        smart_resize(height, width, BUDGET, BUDGET)


@pytest.mark.parametrize('height,width', [(900, 1600), (1080, 1920), (720, 1280), (28, 28),
                                          (450, 800), (1200, 1920), (224, 420)])
def test_every_smart_resize_output_is_accepted_as_already_sized(height, width):
    for low, high in ((BUDGET, BUDGET), (28 * 28 * 4, BUDGET), (9408, 9408)):
        assert is_budget_size(*smart_resize(height, width, low, high), low, high)


def test_smart_resize_is_not_idempotent_at_a_fixed_budget():
    # Why the planner must check before resizing: 420x224 would grow to 476x252.
    assert smart_resize(224, 420, BUDGET, BUDGET) == (252, 476)
    assert is_budget_size(224, 420, BUDGET, BUDGET)


@pytest.mark.parametrize('height,width', [(900, 1600), (225, 400), (196, 420), (224, 392),
                                          (336, 588), (0, 28)])
def test_frames_not_sized_for_the_budget_are_not_accepted(height, width):
    # Not multiples of 28, one step below a fitting size, or too large for the budget.
    assert not is_budget_size(height, width, BUDGET, BUDGET)
