//! Which cores have subscribers: a bit mask over core indexes.

use std::fmt;

/// A core's index, below [`MAX_CORES`].
pub type CoreId = u16;

/// How many cores a [`CoreSet`] can name; the router runs at most this many.
pub const MAX_CORES: usize = 64;

/// The cores with at least one local subscriber, as a bit mask.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct CoreSet(u64);

/// The cores of a [`CoreSet`], lowest first.
#[derive(Clone, Debug)]
pub struct CoreSetIter(u64);

impl CoreSet {
    /// No cores.
    pub const EMPTY: Self = Self(0);

    /// The set whose bit `n` stands for core `n`.
    pub const fn from_bits(bits: u64) -> Self {
        Self(bits)
    }

    /// The set as a bit mask.
    pub const fn bits(self) -> u64 {
        self.0
    }

    /// Whether `core` is in the set; a core at or past [`MAX_CORES`] never
    /// is.
    pub const fn contains(self, core: CoreId) -> bool {
        (core as usize) < MAX_CORES && self.0 & (1 << core) != 0
    }

    /// Whether no core is in the set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// How many cores are in the set.
    pub const fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// The set with `core` added; unchanged for a core past [`MAX_CORES`].
    pub const fn with(self, core: CoreId) -> Self {
        if (core as usize) < MAX_CORES {
            Self(self.0 | 1 << core)
        } else {
            self
        }
    }

    /// The set with `core` removed.
    pub const fn without(self, core: CoreId) -> Self {
        if (core as usize) < MAX_CORES {
            Self(self.0 & !(1 << core))
        } else {
            self
        }
    }

    /// The cores in the set, lowest first.
    pub const fn iter(self) -> CoreSetIter {
        CoreSetIter(self.0)
    }
}

impl IntoIterator for CoreSet {
    type Item = CoreId;
    type IntoIter = CoreSetIter;

    fn into_iter(self) -> CoreSetIter {
        self.iter()
    }
}

impl Iterator for CoreSetIter {
    type Item = CoreId;

    fn next(&mut self) -> Option<CoreId> {
        if self.0 == 0 {
            return None;
        }
        let core = self.0.trailing_zeros() as CoreId;
        self.0 &= self.0 - 1;
        Some(core)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.0.count_ones() as usize;
        (n, Some(n))
    }
}

impl fmt::Debug for CoreSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_set() {
        let set = CoreSet::EMPTY.with(3).with(0).with(63).with(64).with(3);
        assert_eq!(set.iter().collect::<Vec<_>>(), [0, 3, 63]);
        assert_eq!(set.len(), 3);
        assert!(set.contains(63) && !set.contains(64) && !set.contains(1));
        assert_eq!(set.without(3).without(99).bits(), 1 | 1 << 63);
        assert!(CoreSet::EMPTY.is_empty() && !set.is_empty());
        assert_eq!(format!("{set:?}"), "{0, 3, 63}");
        assert_eq!(CoreSet::from_bits(set.bits()), set);
    }
}
