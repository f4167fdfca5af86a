import struct

import numpy as np

from index.e5_convert import dequantize_q4


def test_q4_block_layout_low_nibbles_then_high_nibbles():
    # One block: scale 0.5; byte j holds weight j (low nibble) and j+16 (high).
    qs = bytes(((15 - j) << 4) | j for j in range(16))
    raw = struct.pack("<e", 0.5) + qs
    weights = dequantize_q4(raw, 1, 32)[0]
    expected = [(j - 8) * 0.5 for j in range(16)] + [(15 - j - 8) * 0.5 for j in range(16)]
    np.testing.assert_array_equal(weights, np.array(expected, dtype=np.float32))


def test_q4_rows_are_output_units():
    block = struct.pack("<e", 1.0) + bytes([0x98] * 16)  # low nibble 8 -> 0, high 9 -> 1
    weights = dequantize_q4(block * 4, 2, 64)
    assert weights.shape == (2, 64)
    assert (weights[:, :16] == 0).all() and (weights[:, 16:32] == 1).all()
