//! The serializer ids carried in the handshake's `SERIALIZER` nibble.

/// A serializer that can be negotiated over RawSocket.
///
/// Self-contained on purpose: the codec's general serializer type is unified
/// with this one during integration. Ids 4 (UBJSON) and 5 (FlatBuffers) are
/// defined by the spec but not spoken by ringbar, so they have no variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RawSocketSerializer {
    /// `wamp.2.json`, id 1.
    Json,
    /// `wamp.2.msgpack`, id 2.
    MsgPack,
    /// `wamp.2.cbor`, id 3.
    Cbor,
}

impl RawSocketSerializer {
    /// Every serializer ringbar speaks, in id order, for building policies.
    pub const ALL: [Self; 3] = [Self::Json, Self::MsgPack, Self::Cbor];

    /// The 4-bit id sent in the handshake.
    pub const fn id(self) -> u8 {
        match self {
            Self::Json => 1,
            Self::MsgPack => 2,
            Self::Cbor => 3,
        }
    }

    /// The serializer for a handshake id, `None` for 0 (illegal), ids ringbar
    /// does not speak, and ids the spec reserves.
    pub const fn from_id(id: u8) -> Option<Self> {
        match id {
            1 => Some(Self::Json),
            2 => Some(Self::MsgPack),
            3 => Some(Self::Cbor),
            _ => None,
        }
    }
}

/// A set of serializers, so a server policy is `Copy` and needs no
/// allocation or lifetime. Bit `id` stands for the serializer with that id.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SerializerSet(u8);

impl SerializerSet {
    /// No serializer: a policy with this set rejects every client.
    pub const EMPTY: Self = Self(0);
    /// Every serializer ringbar speaks.
    pub const ALL: Self = Self::EMPTY
        .with(RawSocketSerializer::Json)
        .with(RawSocketSerializer::MsgPack)
        .with(RawSocketSerializer::Cbor);

    /// This set plus `serializer`; `const` so policies can be constants.
    pub const fn with(self, serializer: RawSocketSerializer) -> Self {
        Self(self.0 | 1 << serializer.id())
    }

    /// Whether `serializer` is in the set.
    pub const fn contains(self, serializer: RawSocketSerializer) -> bool {
        self.0 & 1 << serializer.id() != 0
    }

    /// The set holding exactly the serializers in `serializers`.
    pub fn from_slice(serializers: &[RawSocketSerializer]) -> Self {
        serializers.iter().copied().collect()
    }

    /// The members, in id order.
    pub fn iter(self) -> impl Iterator<Item = RawSocketSerializer> {
        RawSocketSerializer::ALL
            .into_iter()
            .filter(move |s| self.contains(*s))
    }
}

impl FromIterator<RawSocketSerializer> for SerializerSet {
    fn from_iter<I: IntoIterator<Item = RawSocketSerializer>>(iter: I) -> Self {
        iter.into_iter().fold(Self::EMPTY, Self::with)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_match_the_spec() {
        assert_eq!(RawSocketSerializer::Json.id(), 1);
        assert_eq!(RawSocketSerializer::MsgPack.id(), 2);
        assert_eq!(RawSocketSerializer::Cbor.id(), 3);
        for s in RawSocketSerializer::ALL {
            assert_eq!(RawSocketSerializer::from_id(s.id()), Some(s));
        }
        for id in [0, 4, 5, 6, 15, 16, 255] {
            assert_eq!(RawSocketSerializer::from_id(id), None);
        }
    }

    #[test]
    fn set_membership() {
        let set = SerializerSet::from_slice(&[RawSocketSerializer::Cbor]);
        assert!(set.contains(RawSocketSerializer::Cbor));
        assert!(!set.contains(RawSocketSerializer::Json));
        assert_eq!(set.iter().collect::<Vec<_>>(), [RawSocketSerializer::Cbor]);
        assert_eq!(
            SerializerSet::ALL.iter().collect::<Vec<_>>(),
            RawSocketSerializer::ALL
        );
        assert_eq!(SerializerSet::EMPTY.iter().count(), 0);
    }
}
