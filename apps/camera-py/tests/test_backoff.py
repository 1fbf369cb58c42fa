import unittest

from camfleet_camera.session import full_jitter


class FullJitterTest(unittest.TestCase):
    def test_upper_bound_doubles_from_250_ms_to_10_s(self) -> None:
        self.assertEqual([full_jitter(n, lambda: 1.0) for n in range(8)],
                         [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0])

    def test_lower_bound_is_zero(self) -> None:
        self.assertEqual(full_jitter(5, lambda: 0.0), 0.0)

    def test_huge_n_stays_capped(self) -> None:
        self.assertEqual(full_jitter(10_000, lambda: 1.0), 10.0)

    def test_random_values_within_bounds(self) -> None:
        for n in range(10):
            for _ in range(50):
                self.assertTrue(0.0 <= full_jitter(n) <= min(10.0, 0.25 * 2 ** n))


if __name__ == "__main__":
    unittest.main()
