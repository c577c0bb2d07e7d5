//! Sets of serializers, by the ids carried in the handshake's `SERIALIZER`
//! nibble.

use crate::codec::Serializer;

/// A set of serializers, so a server policy is `Copy` and needs no
/// allocation or lifetime. Bit `id` stands for the serializer with that id.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SerializerSet(u8);

impl SerializerSet {
    /// No serializer: a policy with this set rejects every client.
    pub const EMPTY: Self = Self(0);
    /// Every serializer ringbar speaks.
    pub const ALL: Self = Self::EMPTY
        .with(Serializer::Json)
        .with(Serializer::MsgPack)
        .with(Serializer::Cbor)
        .with(Serializer::Ubjson);

    /// This set plus `serializer`; `const` so policies can be constants.
    pub const fn with(self, serializer: Serializer) -> Self {
        Self(self.0 | 1 << serializer.rawsocket_id())
    }

    /// Whether `serializer` is in the set.
    pub const fn contains(self, serializer: Serializer) -> bool {
        self.0 & 1 << serializer.rawsocket_id() != 0
    }

    /// The set holding exactly the serializers in `serializers`.
    pub fn from_slice(serializers: &[Serializer]) -> Self {
        serializers.iter().copied().collect()
    }

    /// The members, in id order.
    pub fn iter(self) -> impl Iterator<Item = Serializer> {
        Serializer::ALL
            .into_iter()
            .filter(move |s| self.contains(*s))
    }
}

impl FromIterator<Serializer> for SerializerSet {
    fn from_iter<I: IntoIterator<Item = Serializer>>(iter: I) -> Self {
        iter.into_iter().fold(Self::EMPTY, Self::with)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_match_the_spec() {
        assert_eq!(Serializer::Json.rawsocket_id(), 1);
        assert_eq!(Serializer::MsgPack.rawsocket_id(), 2);
        assert_eq!(Serializer::Cbor.rawsocket_id(), 3);
        assert_eq!(Serializer::Ubjson.rawsocket_id(), 4);
        for s in Serializer::ALL {
            assert_eq!(Serializer::from_rawsocket_id(s.rawsocket_id()), Some(s));
        }
        for id in [0, 5, 6, 15, 16, 255] {
            assert_eq!(Serializer::from_rawsocket_id(id), None);
        }
    }

    #[test]
    fn set_membership() {
        let set = SerializerSet::from_slice(&[Serializer::Cbor]);
        assert!(set.contains(Serializer::Cbor));
        assert!(!set.contains(Serializer::Json));
        assert_eq!(set.iter().collect::<Vec<_>>(), [Serializer::Cbor]);
        assert_eq!(
            SerializerSet::ALL.iter().collect::<Vec<_>>(),
            Serializer::ALL
        );
        assert_eq!(SerializerSet::EMPTY.iter().count(), 0);
    }
}
