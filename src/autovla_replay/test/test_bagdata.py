from autovla_replay.bagdata import BagMessage, split_frames

ANCHOR = 'cameras/CAM_FRONT/image/compressed'


def msg(topic, stamp):
    return BagMessage(topic, 'x/msg/Y', stamp, b'')


def test_frames_hold_everything_up_to_each_anchor_and_the_anchor_separately():
    messages = [msg('odometry', 0), msg('cameras/CAM_BACK/image/compressed', 10),
                msg(ANCHOR, 10), msg('odometry', 10), msg('driving_command', 10),
                msg('odometry', 15), msg(ANCHOR, 20), msg('cameras/CAM_BACK/image/compressed', 20),
                msg('odometry', 25)]
    first, second, trailing = split_frames(messages, ANCHOR)
    assert first.anchor_stamp == 10
    assert [(m.topic, m.stamp) for m in first.anchor] == [(ANCHOR, 10)]
    # Context stamped at the anchor stamp belongs to that frame even when stored after it.
    assert [(m.topic, m.stamp) for m in first.messages] == [
        ('odometry', 0), ('cameras/CAM_BACK/image/compressed', 10), ('odometry', 10),
        ('driving_command', 10)]
    assert [(m.topic, m.stamp) for m in second.messages] == [
        ('odometry', 15), ('cameras/CAM_BACK/image/compressed', 20)]
    assert [m.stamp for m in second.anchor] == [20]
    assert trailing.anchor_stamp is None and [m.stamp for m in trailing.messages] == [25]


def stamped(topic, captured_ms, logged_ms):
    """A real CompressedImage / Odometry CDR message captured and logged at different times."""
    from autovla_replay.bagdata import header_stamp
    from autovla_scenarios.typestore import typestore

    from autovla_scenarios import messages
    ns = captured_ms * 1_000_000
    message = (messages.odometry(ns, 0.0, 0.0, 0.0, 0.0, 0.0) if topic == '/odom'
               else messages.compressed_image(ns, 'cam', b'jpeg'))
    data = typestore().serialize_cdr(message, message.__msgtype__)
    return BagMessage(topic, message.__msgtype__, logged_ms * 1_000_000, data,
                      header_stamp(message.__msgtype__, data))


def test_cameras_captured_after_the_anchor_stay_in_its_frame_by_header_stamp():
    front, left, right = '/CAM_FRONT/c', '/CAM_FRONT_LEFT/c', '/CAM_FRONT_RIGHT/c'
    # Logged in arrival order: the right camera (captured 35 ms after the anchor) is logged
    # after odometry that belongs to the next frame; the left one was captured 8 ms early.
    messages = [stamped(left, 992, 1000), stamped(front, 1000, 1001), stamped('/odom', 1010, 1010),
                stamped(right, 1035, 1040), stamped(left, 1492, 1500), stamped(front, 1500, 1502),
                stamped(right, 1535, 1545)]
    first, second = split_frames(messages, front, {front, left, right}, 50_000_000)
    assert first.anchor_stamp == 1_000_000_000
    assert [m.topic for m in first.messages] == [left, right]
    assert [m.topic for m in second.messages] == ['/odom', left, right]
    assert [m.capture_stamp for m in second.anchor] == [1_500_000_000]
