//! A serde deserializer over a parsed config value that notes every key an
//! object type does not know, together with the keys it does know.
//!
//! serde hands a struct's field names to `deserialize_struct`, so this one
//! place learns the known keys of every config object, at every depth,
//! without a list kept beside each type; [`super::read`] turns the notes
//! into errors that suggest the nearest known key.

use std::cell::RefCell;

use serde::de::value::BorrowedStrDeserializer;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::diag::Segment;

/// A key that no field of its object's type takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UnknownKey {
    /// Where the object is, relative to the value read.
    pub(crate) object: Vec<Segment>,
    /// The key.
    pub(crate) key: String,
    /// The keys the object's type takes.
    pub(crate) known: &'static [&'static str],
}

/// Deserializes `value`, pushing every unknown key onto `found`.
#[derive(Clone, Copy)]
pub(crate) struct Deserializer<'a, 'de> {
    value: &'de Value,
    at: &'a Location<'a>,
    found: &'a RefCell<Vec<UnknownKey>>,
}

/// Where a value sits: a chain of segments up to the value read, so that
/// descending costs no allocation and only an unknown key builds a path.
pub(crate) enum Location<'a> {
    /// The value read.
    Root,
    /// One step below `parent`.
    Child(&'a Location<'a>, SegmentRef<'a>),
}

/// A [`Segment`] borrowed from the value.
#[derive(Clone, Copy)]
pub(crate) enum SegmentRef<'a> {
    /// A key of an object.
    Key(&'a str),
    /// An index into a list.
    Index(usize),
}

impl<'a, 'de> Deserializer<'a, 'de> {
    /// A deserializer of the whole `value`.
    pub(crate) fn new(value: &'de Value, found: &'a RefCell<Vec<UnknownKey>>) -> Self {
        Deserializer {
            value,
            at: &Location::Root,
            found,
        }
    }
}

impl Location<'_> {
    fn segments(&self) -> Vec<Segment> {
        let mut segments = Vec::new();
        let mut at = self;
        while let Location::Child(parent, segment) = at {
            segments.push(match segment {
                SegmentRef::Key(key) => Segment::Key((*key).to_owned()),
                SegmentRef::Index(index) => Segment::Index(*index),
            });
            at = parent;
        }
        segments.reverse();
        segments
    }
}

impl<'de> de::Deserializer<'de> for Deserializer<'_, 'de> {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        self.visit(visitor, None)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.value {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.visit(visitor, Some(fields))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        de::Deserializer::deserialize_enum(self.value, name, variants, visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map identifier
    }
}

impl<'de> Deserializer<'_, 'de> {
    /// Hands the value to `visitor`; an object read as a struct with the
    /// keys `known` notes the others as they come, so that they are
    /// reported in the file's order.
    fn visit<V: Visitor<'de>>(
        self,
        visitor: V,
        known: Option<&'static [&'static str]>,
    ) -> Result<V::Value, serde_json::Error> {
        // As serde_json does, a visitor that leaves items unread fails
        // (a struct written as a list too long for it).
        match self.value {
            Value::Array(items) => {
                let mut access = Items {
                    items: items.iter().enumerate(),
                    at: self.at,
                    found: self.found,
                };
                let read = visitor.visit_seq(&mut access)?;
                all_read(
                    read,
                    access.items.len(),
                    items.len(),
                    "fewer elements in array",
                )
            }
            Value::Object(entries) => {
                let mut access = Entries {
                    entries: entries.iter(),
                    value: None,
                    known,
                    at: self.at,
                    found: self.found,
                };
                let read = visitor.visit_map(&mut access)?;
                all_read(
                    read,
                    access.entries.len(),
                    entries.len(),
                    "fewer elements in map",
                )
            }
            leaf => de::Deserializer::deserialize_any(leaf, visitor),
        }
    }
}

/// `read`, unless the visitor left `left` of the `total` items unread.
fn all_read<T>(
    read: T,
    left: usize,
    total: usize,
    expected: &'static str,
) -> Result<T, serde_json::Error> {
    match left {
        0 => Ok(read),
        _ => Err(de::Error::invalid_length(total, &expected)),
    }
}

struct Items<'a, 'de> {
    items: std::iter::Enumerate<std::slice::Iter<'de, Value>>,
    at: &'a Location<'a>,
    found: &'a RefCell<Vec<UnknownKey>>,
}

impl<'de> SeqAccess<'de> for Items<'_, 'de> {
    type Error = serde_json::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Self::Error> {
        let Some((index, value)) = self.items.next() else {
            return Ok(None);
        };
        let at = Location::Child(self.at, SegmentRef::Index(index));
        seed.deserialize(Deserializer {
            value,
            at: &at,
            found: self.found,
        })
        .map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct Entries<'a, 'de> {
    entries: serde_json::map::Iter<'de>,
    /// The value of the key last handed out.
    value: Option<(&'de str, &'de Value)>,
    /// The keys of the struct read, when one is.
    known: Option<&'static [&'static str]>,
    at: &'a Location<'a>,
    found: &'a RefCell<Vec<UnknownKey>>,
}

impl<'de> MapAccess<'de> for Entries<'_, 'de> {
    type Error = serde_json::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        let Some((key, value)) = self.entries.next() else {
            return Ok(None);
        };
        if let Some(known) = self.known
            && !known.contains(&key.as_str())
        {
            self.found.borrow_mut().push(UnknownKey {
                object: self.at.segments(),
                key: key.clone(),
                known,
            });
        }
        self.value = Some((key, value));
        seed.deserialize(BorrowedStrDeserializer::new(key.as_str()))
            .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, Self::Error> {
        let Some((key, value)) = self.value.take() else {
            return Err(de::Error::custom(
                "a map value was asked for before its key",
            ));
        };
        let at = Location::Child(self.at, SegmentRef::Key(key));
        seed.deserialize(Deserializer {
            value,
            at: &at,
            found: self.found,
        })
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Allow {
        #[serde(default)]
        call: bool,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Permission {
        uri: String,
        #[serde(default)]
        allow: Option<Allow>,
        #[serde(default, rename = "match")]
        policy: Option<String>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Role {
        name: String,
        #[serde(default)]
        permissions: Vec<Permission>,
        #[serde(default)]
        extra: Option<Value>,
    }

    fn unknown_of<T: for<'de> Deserialize<'de>>(value: &Value) -> (Option<T>, Vec<UnknownKey>) {
        let found = RefCell::new(Vec::new());
        let typed = T::deserialize(Deserializer::new(value, &found)).ok();
        (typed, found.into_inner())
    }

    #[test]
    fn unknown_keys_come_with_their_object_and_its_known_keys() {
        let value = json!({
            "name": "r",
            "permisions": [],
            "permissions": [{"uri": "a", "allow": {"call": true, "cal": true}, "matc": "exact"}],
        });
        let (role, unknown) = unknown_of::<Role>(&value);
        assert_eq!(
            unknown,
            [
                UnknownKey {
                    object: vec![],
                    key: "permisions".into(),
                    known: &["name", "permissions", "extra"],
                },
                UnknownKey {
                    object: vec![
                        Segment::Key("permissions".into()),
                        Segment::Index(0),
                        Segment::Key("allow".into()),
                    ],
                    key: "cal".into(),
                    known: &["call"],
                },
                UnknownKey {
                    object: vec![Segment::Key("permissions".into()), Segment::Index(0)],
                    key: "matc".into(),
                    known: &["uri", "allow", "match"],
                },
            ]
        );
        let role = role.unwrap();
        assert_eq!(role.permissions[0].allow, Some(Allow { call: true }));
    }

    #[test]
    fn free_values_keep_every_key() {
        let value = json!({"name": "r", "extra": {"anything": [1, {"goes": null}]}});
        let (role, unknown) = unknown_of::<Role>(&value);
        assert!(unknown.is_empty());
        assert_eq!(
            role.unwrap().extra,
            Some(json!({"anything": [1, {"goes": null}]}))
        );
    }

    /// Any JSON value: leaves, lists and objects, with keys that are often
    /// the test types' own.
    fn any_value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let key = prop_oneof![
            Just("name".to_owned()),
            Just("permissions".to_owned()),
            Just("extra".to_owned()),
            Just("uri".to_owned()),
            Just("allow".to_owned()),
            Just("call".to_owned()),
            Just("match".to_owned()),
            "[a-z]{1,6}",
        ];
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            (-1e9f64..1e9).prop_map(Value::from),
            "[a-z.]{0,8}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 48, 6, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                proptest::collection::btree_map(key.clone(), inner, 0..6)
                    .prop_map(|map| Value::Object(map.into_iter().collect())),
            ]
        })
    }

    /// Every key of every object in `value`, with the place of its object.
    fn all_keys(value: &Value, at: Vec<Segment>, out: &mut Vec<(Vec<Segment>, String)>) {
        match value {
            Value::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    let mut below = at.clone();
                    below.push(Segment::Index(index));
                    all_keys(item, below, out);
                }
            }
            Value::Object(entries) => {
                for (key, item) in entries {
                    out.push((at.clone(), key.clone()));
                    let mut below = at.clone();
                    below.push(Segment::Key(key.clone()));
                    all_keys(item, below, out);
                }
            }
            _ => {}
        }
    }

    proptest::proptest! {
        /// The checking deserializer reads every value exactly as
        /// serde_json does (same value, same error), and every key it calls
        /// unknown is one of the value's keys that its type does not know.
        #[test]
        fn reads_as_serde_json_reads(value in any_value()) {
            let found = RefCell::new(Vec::new());
            let checked = Role::deserialize(Deserializer::new(&value, &found))
                .map_err(|e| e.to_string());
            let plain = Role::deserialize(&value).map_err(|e| e.to_string());
            proptest::prop_assert_eq!(&checked, &plain);
            let mut keys = Vec::new();
            all_keys(&value, Vec::new(), &mut keys);
            for unknown in found.into_inner() {
                proptest::prop_assert!(!unknown.known.contains(&unknown.key.as_str()));
                proptest::prop_assert!(
                    keys.contains(&(unknown.object.clone(), unknown.key.clone())),
                    "{:?} is not a key of the value", unknown
                );
            }
            // A value that reads has every unknown key of its root object
            // noted (the root is always read as a struct).
            if let (Ok(_), Value::Object(entries)) = (&plain, &value) {
                let found_again = RefCell::new(Vec::new());
                let _ = Role::deserialize(Deserializer::new(&value, &found_again));
                let at_root: Vec<String> = found_again
                    .into_inner()
                    .into_iter()
                    .filter(|u| u.object.is_empty())
                    .map(|u| u.key)
                    .collect();
                let expected: Vec<String> = entries
                    .keys()
                    .filter(|k| !["name", "permissions", "extra"].contains(&k.as_str()))
                    .cloned()
                    .collect();
                proptest::prop_assert_eq!(at_root, expected);
            }
        }
    }

    #[test]
    fn type_errors_read_as_serde_json_words_them() {
        let value = json!({"name": 7});
        let found = RefCell::new(Vec::new());
        let error = Role::deserialize(Deserializer::new(&value, &found)).unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid type: integer `7`, expected a string"
        );
        let error = u16::deserialize(Deserializer::new(&json!(70000), &found)).unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid value: integer `70000`, expected u16"
        );
    }
}
