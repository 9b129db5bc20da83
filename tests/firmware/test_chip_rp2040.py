# hal/chip_rp2040.py: the RP2040's key randomness mixes the board secret, a counter and fresh
# ring-oscillator bytes (the oscillator alone is not fit for keys, RP2040 datasheet 2.17.5).
from meterseal.hal import chip_rp2040


def test_mixed_random_lengths_and_distinct_blocks():
    secret = b"\x11" * 32
    a = chip_rp2040.mixed_random(32, secret)
    b = chip_rp2040.mixed_random(32, secret)
    assert len(a) == 32 and a != b
    long = chip_rp2040.mixed_random(100, secret)
    assert len(long) == 100 and long[:32] != long[32:64]


def test_mixed_random_depends_on_the_secret_even_with_a_stuck_oscillator():
    def dead(n):  # an oscillator stuck at zero
        return b"\x00" * n

    chip_rp2040._counter[0] = 0
    a = chip_rp2040.mixed_random(32, b"\x01" * 32, dead)
    chip_rp2040._counter[0] = 0
    b = chip_rp2040.mixed_random(32, b"\x02" * 32, dead)
    c = chip_rp2040.mixed_random(32, b"\x02" * 32, dead)
    assert a != b and b != c  # the secret and the counter still separate the outputs
