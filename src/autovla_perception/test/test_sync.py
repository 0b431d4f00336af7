from autovla_perception.sync import Synchroniser
import pytest

SECOND = 1_000_000_000
PERIOD = SECOND // 12   # 12 Hz cameras
CAMERAS = ['FRONT', 'LEFT', 'BACK']


def make(policy='skip', history_length=4, max_wait=0.1, min_spacing=0):
    return Synchroniser(CAMERAS, 'FRONT', int(0.06 * SECOND), history_length, SECOND // 2,
                        int(max_wait * SECOND), policy, int(min_spacing * SECOND))


def feed(sync, seconds, start=0, skip=(), offsets=None):
    """Frames of every camera at 12 Hz; camera i is stamped 10 ms * i after FRONT."""
    count = int(seconds * 12)
    for n in range(count):
        for i, camera in enumerate(CAMERAS):
            stamp = start + n * PERIOD + (offsets or {}).get(camera, i * 10_000_000)
            if camera not in skip:
                assert sync.add(camera, stamp, stamp, (camera, n)) == 'ok'
    return start + (count - 1) * PERIOD


def test_history_picks_frames_nearest_to_each_slot():
    sync = make()
    anchor = feed(sync, 2.5)
    selection = sync.select(anchor)
    assert selection.status == 'ready' and selection.anchor_stamp_ns == anchor
    for i, camera in enumerate(CAMERAS):
        all_stamps = [n * PERIOD + i * 10_000_000 for n in range(30)]
        stamps = [min(all_stamps, key=lambda s, t=anchor - k * SECOND // 2: abs(s - t))
                  for k in (3, 2, 1, 0)]
        assert [f.stamp_ns for f in selection.histories[camera]] == stamps


def test_warming_up_until_the_history_span_is_buffered():
    sync = make()
    anchor = feed(sync, 1.0)   # 1 s < 1.5 s of history
    assert sync.select(anchor).status == 'warming_up'
    assert make(history_length=1).select(0).status == 'no_new_anchor'


def test_anchor_is_used_once():
    sync = make()
    anchor = feed(sync, 2.5)
    assert sync.select(anchor).status == 'ready'
    sync.consume(anchor)
    assert sync.select(anchor).status == 'no_new_anchor'


def test_late_camera_waits_then_skips():
    sync = make()
    anchor = feed(sync, 2.5, skip=('BACK',))
    feed_back = [sync.add('BACK', n * PERIOD, n * PERIOD, None) for n in range(20)]
    assert set(feed_back) == {'ok'}      # BACK stops 1.6 s in: no frame near the anchor
    waiting = sync.select(anchor + 50_000_000)
    assert waiting.status == 'waiting' and list(waiting.missing) == ['BACK']
    skipped = sync.select(anchor + 100_000_000)
    assert skipped.status == 'skipped' and list(skipped.missing) == ['BACK']


def test_late_camera_published_missing_under_that_policy():
    sync = make(policy='publish_missing')
    anchor = feed(sync, 2.5, skip=('BACK',))
    selection = sync.select(anchor + 200_000_000)
    assert selection.status == 'ready'
    assert selection.histories['BACK'] is None and len(selection.histories['LEFT']) == 4


def test_frame_beyond_the_tolerance_does_not_fill_a_slot():
    sync = make(policy='publish_missing', max_wait=0.0)
    anchor = feed(sync, 2.5, skip=('LEFT', 'BACK'))
    for k in (3, 2, 1, 0):
        slot = anchor - k * SECOND // 2
        sync.add('LEFT', slot + 59_000_000, 0, None)   # inside 60 ms
        sync.add('BACK', slot + 61_000_000, 0, None)   # just outside
    selection = sync.select(anchor)
    assert selection.status == 'ready' and list(selection.missing) == ['BACK']
    assert len(selection.histories['LEFT']) == 4


def test_stamps_going_backwards_drop_the_old_timeline_from_every_buffer():
    sync = make()
    feed(sync, 2.5)
    assert sync.add('LEFT', 5 * PERIOD, 0, None) == 'stamp_backwards'
    # Only the capture at that stamp (within the 60 ms tolerance) stays: FRONT's and BACK's
    # frames 0 and 20 ms from it; the 2 s of frames after it belong to the old timeline.
    assert [[f.stamp_ns for f in b.frames] for b in sync.buffers.values()] == [
        [5 * PERIOD], [5 * PERIOD], [5 * PERIOD + 20_000_000]]
    assert sync.last_anchor_ns is None
    assert sync.add('LEFT', 5 * PERIOD, 0, None) == 'duplicate_stamp'


def test_a_timeline_restart_keeps_the_new_timelines_frames_that_came_first():
    """Issue 10: a second replay into a running stack timed out frame 0.

    The new replay's LEFT and FRONT frames arrive (LEFT's stamp going back restarts the
    timeline), then a last BACK frame of the old timeline delivered late, then BACK's first
    new frame: its stamp going back must drop the straggler, not LEFT's and FRONT's new frames.
    """
    sync = make(history_length=1)
    end = feed(sync, 2.5, start=100 * SECOND)
    start = 10 * SECOND
    assert sync.add('LEFT', start + 10_000_000, 1, 'new') == 'stamp_backwards'
    assert sync.add('FRONT', start, 2, 'new') == 'ok'
    assert sync.add('BACK', end + PERIOD, 3, 'old, late') == 'ok'
    assert sync.add('BACK', start + 20_000_000, 4, 'new') == 'stamp_backwards'
    selection = sync.select(5)
    assert selection.status == 'ready' and selection.anchor_stamp_ns == start
    assert {camera: [f.payload for f in frames] for camera, frames in
            selection.histories.items()} == {'FRONT': ['new'], 'LEFT': ['new'], 'BACK': ['new']}


def test_buffers_keep_only_the_history_span():
    sync = make()
    feed(sync, 10.0)
    front = sync.buffers['FRONT']
    span = front.frames[-1].stamp_ns - front.frames[0].stamp_ns
    assert 1.5 * SECOND <= span <= sync.span_ns


def test_tolerance_must_stay_under_half_the_history_period():
    with pytest.raises(ValueError):
        Synchroniser(CAMERAS, 'FRONT', SECOND // 4, 4, SECOND // 2, 0, 'skip')
    with pytest.raises(ValueError):
        Synchroniser(CAMERAS, 'REAR', 1, 4, SECOND // 2, 0, 'skip')


def test_observations_are_spaced_by_the_planning_period_in_stamp_time():
    # 12 Hz cameras, 2 Hz planning: after an observation at anchor t, the next anchor that may
    # be used is the first at or after t + 0.5 s - tolerance (0.06 s), i.e. 6 frames later.
    sync = make(min_spacing=0.5)
    first = feed(sync, 2.0)
    assert sync.select(first).status == 'ready'
    sync.consume(first)
    used = []
    for n in range(1, 13):
        stamp = first + n * PERIOD
        for i, camera in enumerate(CAMERAS):
            sync.add(camera, stamp + i * 10_000_000, stamp, (camera, n))
        selection = sync.select(stamp + 2 * 10_000_000)
        if selection.status == 'ready':
            used.append(n)
            sync.consume(selection.anchor_stamp_ns)
        else:
            assert selection.status == 'no_new_anchor'
    # 0.44 s / (1/12 s) = 5.28 -> frame 6 is the first due, then 12.
    assert used == [6, 12]
