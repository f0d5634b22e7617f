//! xorshift64*: a tiny seeded generator for the randomized end-to-end tests (kill points,
//! fault schedules), so a printed seed replays a run exactly.

pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (0, where xorshift would stay, is taken as 1).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}
