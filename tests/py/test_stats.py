"""Unit tests of scripts/c1m/stats.py: the compare statistics.

run: python3 -m unittest discover -s tests/py -p 'test_stats.py'
"""
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts"))
from c1m import stats  # noqa: E402


class Median(unittest.TestCase):
    def test_odd(self):
        self.assertEqual(stats.median([30, 10, 20]), 20)

    def test_even_is_mean_of_middle_two(self):
        self.assertEqual(stats.median([40, 10, 30, 20]), 25)
        self.assertEqual(stats.median([1, 2]), 1.5)

    def test_one_round(self):
        self.assertEqual(stats.median([123456.5]), 123456.5)

    def test_missing_round_left_out(self):
        # Three rounds, the second failed: the median of the two left.
        self.assertEqual(stats.median([100, None, 200]), 150)

    def test_nothing(self):
        self.assertIsNone(stats.median([]))
        self.assertIsNone(stats.median([None, None]))

    def test_zero_is_a_figure(self):
        self.assertEqual(stats.median([0, 0, 5]), 0)

    def test_full_precision(self):
        self.assertEqual(stats.median([1.0000001, 3.0000003]), 2.0000002)


class Spread(unittest.TestCase):
    def test_min_max(self):
        self.assertEqual(stats.spread([5, 1, 9, 3]), (1, 9))

    def test_one_round(self):
        self.assertEqual(stats.spread([7]), (7, 7))

    def test_missing_and_zero(self):
        self.assertEqual(stats.spread([None, 0, 4]), (0, 4))
        self.assertIsNone(stats.spread([None]))

    def test_summary(self):
        self.assertEqual(stats.summary([3, None, 1, 2]),
                         {"median": 2, "min": 1, "max": 3, "n": 3})
        self.assertEqual(stats.summary([]),
                         {"median": None, "min": None, "max": None, "n": 0})


class Ratios(unittest.TestCase):
    def test_same_round(self):
        # Each round over the reference of THAT round, not of another.
        self.assertEqual(stats.ratios([50, 90, 40], [100, 100, 50]),
                         [0.5, 0.9, 0.8])

    def test_ratio_of_median_is_not_median_of_ratios(self):
        r = stats.ratios([100, 60, 30], [100, 100, 20])
        self.assertEqual(stats.median(r), 1.0)      # rounds: 1.0, 0.6, 1.5
        self.assertEqual(stats.median([100, 60, 30]) / stats.median([100, 100, 20]), 0.6)

    def test_missing_round_either_side(self):
        self.assertEqual(stats.ratios([10, None, 30, 40], [20, 20, None, 80]),
                         [0.5, None, None, 0.5])

    def test_reference_shorter(self):
        self.assertEqual(stats.ratios([10, 20], [20]), [0.5, None])

    def test_zero(self):
        # A reference at 0 gives no ratio; a design at 0 is ratio 0.
        self.assertEqual(stats.ratios([10, 0], [0, 10]), [None, 0.0])

    def test_even_rounds_median_and_spread(self):
        r = stats.ratios([90, 110, 100, 120], [100, 100, 100, 100])
        self.assertAlmostEqual(stats.median(r), 1.05)
        self.assertEqual(stats.spread(r), (0.9, 1.2))


class WithinNoise(unittest.TestCase):
    def test_overlap(self):
        self.assertTrue(stats.overlap((1, 5), (4, 9)))
        self.assertTrue(stats.overlap((4, 9), (1, 5)))
        self.assertTrue(stats.overlap((1, 5), (5, 9)))    # touching
        self.assertTrue(stats.overlap((1, 9), (3, 4)))    # inside
        self.assertFalse(stats.overlap((1, 5), (6, 9)))
        self.assertFalse(stats.overlap((6, 9), (1, 5)))
        self.assertFalse(stats.overlap(None, (1, 2)))

    def test_rounds_overlap(self):
        self.assertTrue(stats.within_noise([100, 120, 110], [115, 130, 125]))

    def test_rounds_apart(self):
        self.assertFalse(stats.within_noise([100, 120, 110], [121, 130, 125]))

    def test_one_round_cannot_tell(self):
        self.assertIsNone(stats.within_noise([100], [100]))
        self.assertIsNone(stats.within_noise([100, None, None], [90, 95, 99]))

    def test_missing_round_ignored(self):
        # Without the failed round the ranges are 100-110 and 111-120.
        self.assertFalse(stats.within_noise([100, None, 110], [111, 120, 115]))
        self.assertTrue(stats.within_noise([100, 130, 110], [111, 120, 115]))

    def test_zero(self):
        self.assertTrue(stats.within_noise([0, 0], [0, 5]))
        self.assertFalse(stats.within_noise([0, 0], [1, 5]))

    def test_even_rounds(self):
        self.assertFalse(stats.within_noise([1, 2, 3, 4], [5, 6, 7, 8]))
        self.assertTrue(stats.within_noise([1, 2, 3, 5], [5, 6, 7, 8]))


if __name__ == "__main__":
    unittest.main()
