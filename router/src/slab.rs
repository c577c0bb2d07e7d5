//! A slab: values in one array, named by a small copyable [`Key`] of slot
//! index and generation. It is how a core owns its sessions: the slab is
//! the one owner, and every table that refers to a session (subscribers,
//! callers, callees) keeps a key, not a reference-counted handle. A key
//! outlives its value harmlessly: once the value is removed the key finds
//! nothing, even after the slot holds a new value (the generation
//! differs), so a late reference can neither keep a session (and its
//! socket) alive nor reach the wrong one.

/// Names one value of a [`Slab`]: its slot and the slot's generation when
/// the value went in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    index: u32,
    generation: u32,
}

/// One slot: a value, or free with the generation its next value gets.
#[derive(Debug)]
enum Slot<T> {
    Occupied { generation: u32, value: T },
    Vacant { generation: u32 },
}

/// Values named by [`Key`]s. Insert, lookup and remove are O(1); freed
/// slots are reused, newest first, so the array stays as small as the
/// most values held at once.
#[derive(Debug)]
pub struct Slab<T> {
    slots: Vec<Slot<T>>,
    /// Free slots that may be reused (a slot whose generation ran out is
    /// never reused, so no key can ever name two values).
    free: Vec<u32>,
    len: usize,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Self {
            slots: Vec::new(),
            free: Vec::new(),
            len: 0,
        }
    }
}

impl<T> Slab<T> {
    /// Puts in the value `make` builds, handing it its own key first (a
    /// session knows its key, to remove itself).
    ///
    /// Returns `None` only when 2³² slots are in use.
    pub fn insert_with(&mut self, make: impl FnOnce(Key) -> T) -> Option<Key> {
        let index = match self.free.pop() {
            Some(index) => index,
            None => {
                let index = u32::try_from(self.slots.len()).ok()?;
                self.slots.push(Slot::Vacant { generation: 0 });
                index
            }
        };
        let slot = self.slots.get_mut(index as usize)?;
        let generation = match slot {
            Slot::Vacant { generation } => *generation,
            // The free list names vacant slots only.
            Slot::Occupied { .. } => return None,
        };
        let key = Key { index, generation };
        *slot = Slot::Occupied {
            generation,
            value: make(key),
        };
        self.len += 1;
        Some(key)
    }

    /// The value `key` names, if it is still in.
    pub fn get(&self, key: Key) -> Option<&T> {
        match self.slots.get(key.index as usize)? {
            Slot::Occupied { generation, value } if *generation == key.generation => Some(value),
            _ => None,
        }
    }

    /// The value `key` names, if it is still in, to change it.
    pub fn get_mut(&mut self, key: Key) -> Option<&mut T> {
        match self.slots.get_mut(key.index as usize)? {
            Slot::Occupied { generation, value } if *generation == key.generation => Some(value),
            _ => None,
        }
    }

    /// Takes out the value `key` names; `None` when it is gone already.
    pub fn remove(&mut self, key: Key) -> Option<T> {
        let slot = self.slots.get_mut(key.index as usize)?;
        match slot {
            Slot::Occupied { generation, .. } if *generation == key.generation => {}
            _ => return None,
        }
        let next = key.generation.checked_add(1);
        let taken = std::mem::replace(
            slot,
            Slot::Vacant {
                generation: next.unwrap_or(u32::MAX),
            },
        );
        if next.is_some() {
            self.free.push(key.index);
        }
        self.len -= 1;
        match taken {
            Slot::Occupied { value, .. } => Some(value),
            Slot::Vacant { .. } => None,
        }
    }

    /// How many values are in.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no value is in.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Every value, with its key, in slot order.
    pub fn iter(&self) -> impl Iterator<Item = (Key, &T)> {
        self.slots
            .iter()
            .zip(0u32..)
            .filter_map(|(slot, index)| match slot {
                Slot::Occupied { generation, value } => Some((
                    Key {
                        index,
                        generation: *generation,
                    },
                    value,
                )),
                Slot::Vacant { .. } => None,
            })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn a_key_finds_nothing_once_its_slot_holds_another_value() {
        let mut slab = Slab::default();
        let first = slab.insert_with(|_| "first").unwrap();
        assert_eq!(slab.remove(first), Some("first"));
        let second = slab.insert_with(|_| "second").unwrap();
        assert_eq!(first.index, second.index, "the freed slot is reused");
        assert_eq!(slab.get(first), None);
        assert_eq!(slab.remove(first), None);
        assert_eq!(slab.get(second), Some(&"second"));
    }

    #[test]
    fn a_value_is_handed_its_own_key() {
        let mut slab = Slab::default();
        let key = slab.insert_with(|key| key).unwrap();
        assert_eq!(slab.get(key), Some(&key));
    }

    #[test]
    fn a_slot_whose_generation_ran_out_is_retired() {
        let mut slab = Slab::<u8> {
            slots: vec![Slot::Vacant {
                generation: u32::MAX,
            }],
            free: vec![0],
            len: 0,
        };
        let last = slab.insert_with(|_| 1).unwrap();
        assert_eq!(slab.remove(last), Some(1));
        let next = slab.insert_with(|_| 2).unwrap();
        assert_ne!(next.index, last.index, "the slot is not reused");
        assert_eq!(slab.get(last), None);
    }

    /// One step of a random run.
    #[derive(Debug, Clone)]
    enum Op {
        Insert(u16),
        /// Removes the n-th key ever handed out (mod how many there are).
        Remove(usize),
        Get(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            any::<u16>().prop_map(Op::Insert),
            any::<usize>().prop_map(Op::Remove),
            any::<usize>().prop_map(Op::Get),
        ]
    }

    proptest! {
        /// The slab answers as a map from every key ever handed out to the
        /// value it named while it was in, and nothing after.
        #[test]
        fn behaves_as_a_map_of_live_keys(ops in proptest::collection::vec(op(), 0..300)) {
            let mut slab = Slab::default();
            let mut model = HashMap::new();
            let mut handed_out = Vec::new();
            let mut peak = 0;
            for op in ops {
                match op {
                    Op::Insert(value) => {
                        let key = slab.insert_with(|_| value).unwrap();
                        prop_assert!(!handed_out.contains(&key), "a key was handed out twice");
                        handed_out.push(key);
                        model.insert(key, value);
                    }
                    Op::Remove(n) if !handed_out.is_empty() => {
                        let key = handed_out[n % handed_out.len()];
                        prop_assert_eq!(slab.remove(key), model.remove(&key));
                    }
                    Op::Get(n) if !handed_out.is_empty() => {
                        let key = handed_out[n % handed_out.len()];
                        prop_assert_eq!(slab.get(key), model.get(&key));
                    }
                    Op::Remove(_) | Op::Get(_) => {}
                }
                prop_assert_eq!(slab.len(), model.len());
                let mut live: Vec<_> = slab.iter().map(|(k, v)| (k, *v)).collect();
                let mut expected: Vec<_> = model.iter().map(|(k, v)| (*k, *v)).collect();
                live.sort_by_key(|(k, _)| (k.index, k.generation));
                expected.sort_by_key(|(k, _)| (k.index, k.generation));
                prop_assert_eq!(live, expected);
                // freed slots are reused before the array grows
                peak = peak.max(model.len());
                prop_assert_eq!(slab.slots.len(), peak);
            }
        }
    }
}
