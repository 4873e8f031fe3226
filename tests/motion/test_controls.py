import numpy as np

from enliven.motion.controls import demo_performance


def test_demo_performance_covers_the_promised_motions():
    frames = list(demo_performance(fps=25, duration_s=8))
    assert len(frames) == 200
    c = [controls for _, controls in frames]
    yaw = np.array([x.yaw for x in c])
    assert yaw.max() > 20 and yaw.min() < -20  # turns both ways, about 25 degrees
    assert max(abs(x.pitch) for x in c) > 5  # nod
    assert max(x.jaw for x in c) > 0.5  # talk
    assert max(x.smile for x in c) > 0.5
    assert max(x.blink_right for x in c) > 0.95  # full blinks
    assert any(x.blink_left > 0.9 and x.blink_right < 0.1 for x in c)  # a wink
    assert max(x.brow for x in c) > 0.5
