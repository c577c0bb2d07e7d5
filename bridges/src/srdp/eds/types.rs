//! The register type system of an EDS: scalars (u/int8–64, float, double,
//! char), dictionaries of scalars (`struct`s: a list of `{field, type}`),
//! and vectors of either, of a fixed `count` or with a little-endian
//! `uint8`/`uint16` length prefix. All values are little-endian.

/// The largest register: positions are u16.
pub const MAX_REGISTER_BYTES: usize = u16::MAX as usize;

/// A scalar type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scalar {
    /// `uint8`.
    U8,
    /// `uint16`.
    U16,
    /// `uint32`.
    U32,
    /// `uint64`.
    U64,
    /// `int8`.
    I8,
    /// `int16`.
    I16,
    /// `int32`.
    I32,
    /// `int64`.
    I64,
    /// `float`: IEEE 754 single.
    Float,
    /// `double`: IEEE 754 double.
    Double,
    /// `char`: one byte of a UTF-8 string.
    Char,
}

/// One field of a dictionary type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// `field`: its key in the WAMP dictionary.
    pub name: String,
    /// `type`: a scalar.
    pub scalar: Scalar,
}

/// What a register holds `count` of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Element {
    /// A scalar.
    Scalar(Scalar),
    /// A dictionary of scalars, its fields in wire order.
    Struct(Vec<Field>),
}

/// How many elements a register holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    /// Always this many (`1`: a scalar or one dictionary).
    Fixed(u16),
    /// As many as the length prefix says.
    Prefixed(Prefix),
}

/// The length prefix of a variable-length register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prefix {
    /// `"uint8"`: at most 255 elements.
    U8,
    /// `"uint16"`: at most 65535 elements.
    U16,
}

/// A register's type: `type` and `count` of its EDS entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterType {
    /// What it holds.
    pub element: Element,
    /// How many.
    pub count: Count,
}

/// How many bytes a register takes on the wire, as a transfer needs to
/// know when it is complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extent {
    /// Always this many bytes.
    Fixed(usize),
    /// A little-endian length prefix of `prefix_bytes`, then that many
    /// elements of `element_bytes` each.
    Prefixed {
        /// 1 or 2.
        prefix_bytes: usize,
        /// The size of one element.
        element_bytes: usize,
    },
}

impl Scalar {
    /// The scalar named `name` in an EDS.
    pub fn parse(name: &str) -> Option<Scalar> {
        Some(match name {
            "uint8" => Scalar::U8,
            "uint16" => Scalar::U16,
            "uint32" => Scalar::U32,
            "uint64" => Scalar::U64,
            "int8" => Scalar::I8,
            "int16" => Scalar::I16,
            "int32" => Scalar::I32,
            "int64" => Scalar::I64,
            "float" => Scalar::Float,
            "double" => Scalar::Double,
            "char" => Scalar::Char,
            _ => return None,
        })
    }

    /// Its name in an EDS.
    pub fn name(self) -> &'static str {
        match self {
            Scalar::U8 => "uint8",
            Scalar::U16 => "uint16",
            Scalar::U32 => "uint32",
            Scalar::U64 => "uint64",
            Scalar::I8 => "int8",
            Scalar::I16 => "int16",
            Scalar::I32 => "int32",
            Scalar::I64 => "int64",
            Scalar::Float => "float",
            Scalar::Double => "double",
            Scalar::Char => "char",
        }
    }

    /// Its size in bytes.
    pub fn bytes(self) -> usize {
        match self {
            Scalar::U8 | Scalar::I8 | Scalar::Char => 1,
            Scalar::U16 | Scalar::I16 => 2,
            Scalar::U32 | Scalar::I32 | Scalar::Float => 4,
            Scalar::U64 | Scalar::I64 | Scalar::Double => 8,
        }
    }
}

impl Prefix {
    /// Its size in bytes.
    pub fn bytes(self) -> usize {
        match self {
            Prefix::U8 => 1,
            Prefix::U16 => 2,
        }
    }

    /// The most elements it can count.
    pub fn max(self) -> usize {
        match self {
            Prefix::U8 => u8::MAX.into(),
            Prefix::U16 => u16::MAX.into(),
        }
    }
}

impl Element {
    /// The size of one element in bytes.
    pub fn bytes(&self) -> usize {
        match self {
            Element::Scalar(scalar) => scalar.bytes(),
            Element::Struct(fields) => fields.iter().map(|f| f.scalar.bytes()).sum(),
        }
    }
}

impl RegisterType {
    /// Its size on the wire.
    pub fn extent(&self) -> Extent {
        let element_bytes = self.element.bytes();
        match self.count {
            Count::Fixed(count) => Extent::Fixed(usize::from(count) * element_bytes),
            Count::Prefixed(prefix) => Extent::Prefixed {
                prefix_bytes: prefix.bytes(),
                element_bytes,
            },
        }
    }

    /// Whether values are strings: `char` vectors (and a single `char`).
    pub fn is_string(&self) -> bool {
        self.element == Element::Scalar(Scalar::Char)
    }

    /// The type as an EDS writes it, for `<prefix>.devices`.
    pub fn describe(&self) -> (ringbar_client::Value, ringbar_client::Value) {
        use ringbar_client::{Dict, Value};
        let ty = match &self.element {
            Element::Scalar(scalar) => Value::from(scalar.name()),
            Element::Struct(fields) => Value::List(
                fields
                    .iter()
                    .map(|f| {
                        let mut field = Dict::new();
                        field.insert("field", f.name.as_str());
                        field.insert("type", f.scalar.name());
                        Value::Dict(field)
                    })
                    .collect(),
            ),
        };
        let count = match self.count {
            Count::Fixed(n) => Value::UInt(n.into()),
            Count::Prefixed(Prefix::U8) => Value::from("uint8"),
            Count::Prefixed(Prefix::U16) => Value::from("uint16"),
        };
        (ty, count)
    }
}

impl Extent {
    /// The register's size once `head` (its first bytes) holds the
    /// prefix; `None` while it does not.
    pub fn total(&self, head: &[u8]) -> Option<usize> {
        match *self {
            Extent::Fixed(bytes) => Some(bytes),
            Extent::Prefixed {
                prefix_bytes,
                element_bytes,
            } => {
                let count = match prefix_bytes {
                    1 => usize::from(*head.first()?),
                    _ => usize::from(u16::from_le_bytes([*head.first()?, *head.get(1)?])),
                };
                Some(prefix_bytes + count * element_bytes)
            }
        }
    }
}
