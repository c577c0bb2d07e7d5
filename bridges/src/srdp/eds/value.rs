//! Register bytes to WAMP values and back, by the register's EDS type: a
//! scalar is a number (a `char` a one-character string), a dictionary a
//! dict, a vector a list, a `char` vector a string (UTF-8; a fixed-length
//! one padded with NULs, which decoding strips).

use ringbar_client::{Dict, Value};

use super::types::{Count, Element, MAX_REGISTER_BYTES, RegisterType, Scalar};

/// Why a value does not fit a register, or bytes are not its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ValueError(pub String);

/// The bytes of `value` in a register of type `ty`.
pub fn encode(ty: &RegisterType, value: &Value) -> Result<Vec<u8>, ValueError> {
    let mut out = Vec::new();
    if ty.is_string() {
        let Value::Str(text) = value else {
            return Err(expected("a string", value));
        };
        let bytes = text.as_bytes();
        match ty.count {
            Count::Fixed(n) if bytes.len() > usize::from(n) => {
                return Err(ValueError(format!(
                    "the string is {} bytes (UTF-8) long, the register holds {n}",
                    bytes.len()
                )));
            }
            Count::Fixed(n) => {
                out.extend_from_slice(bytes);
                out.resize(usize::from(n), 0);
            }
            Count::Prefixed(prefix) => {
                put_prefix(prefix.bytes(), prefix.max(), bytes.len(), "bytes", &mut out)?;
                out.extend_from_slice(bytes);
            }
        }
    } else {
        match ty.count {
            Count::Fixed(1) => put_element(&ty.element, value, &mut out)?,
            count => {
                let Value::List(items) = value else {
                    return Err(expected("a list", value));
                };
                match count {
                    Count::Fixed(n) if items.len() != usize::from(n) => {
                        return Err(ValueError(format!(
                            "the register holds exactly {n} elements, got {}",
                            items.len()
                        )));
                    }
                    Count::Fixed(_) => {}
                    Count::Prefixed(prefix) => {
                        put_prefix(
                            prefix.bytes(),
                            prefix.max(),
                            items.len(),
                            "elements",
                            &mut out,
                        )?;
                    }
                }
                for (index, item) in items.iter().enumerate() {
                    put_element(&ty.element, item, &mut out)
                        .map_err(|e| ValueError(format!("[{index}]: {}", e.0)))?;
                }
            }
        }
    }
    if out.len() > MAX_REGISTER_BYTES {
        return Err(ValueError(format!(
            "{} bytes exceed the largest register ({MAX_REGISTER_BYTES})",
            out.len()
        )));
    }
    Ok(out)
}

/// The value of the bytes of a register of type `ty` (exactly its bytes).
pub fn decode(ty: &RegisterType, bytes: &[u8]) -> Result<Value, ValueError> {
    let extent_total = ty
        .extent()
        .total(bytes)
        .ok_or_else(|| short(ty, bytes.len()))?;
    if bytes.len() != extent_total {
        return Err(ValueError(format!(
            "the register is {extent_total} bytes long, {} bytes arrived",
            bytes.len()
        )));
    }
    let body = match ty.count {
        // The length check above makes room for the prefix.
        Count::Prefixed(prefix) => bytes.get(prefix.bytes()..).unwrap_or_default(),
        Count::Fixed(_) => bytes,
    };
    if ty.is_string() {
        let text = match ty.count {
            Count::Fixed(_) => {
                let end = body
                    .iter()
                    .rposition(|&b| b != 0)
                    .map_or(0, |last| last + 1);
                &body[..end]
            }
            Count::Prefixed(_) => body,
        };
        return Ok(Value::Str(String::from_utf8_lossy(text).into_owned()));
    }
    let size = ty.element.bytes();
    let mut items = body
        .chunks_exact(size)
        .map(|chunk| element(&ty.element, chunk));
    match ty.count {
        Count::Fixed(1) => items.next().ok_or_else(|| short(ty, bytes.len())),
        _ => Ok(Value::List(items.collect())),
    }
}

fn put_prefix(
    bytes: usize,
    max: usize,
    count: usize,
    what: &str,
    out: &mut Vec<u8>,
) -> Result<(), ValueError> {
    if count > max {
        return Err(ValueError(format!(
            "{count} {what} exceed the length prefix's {max}"
        )));
    }
    // `count` fits the prefix: checked above.
    let le = (count as u16).to_le_bytes();
    out.extend_from_slice(&le[..bytes]);
    Ok(())
}

fn put_element(element: &Element, value: &Value, out: &mut Vec<u8>) -> Result<(), ValueError> {
    match element {
        Element::Scalar(scalar) => put_scalar(*scalar, value, out),
        Element::Struct(fields) => {
            let Value::Dict(dict) = value else {
                return Err(expected("a dict", value));
            };
            if let Some((key, _)) = dict
                .iter()
                .find(|(key, _)| !fields.iter().any(|f| f.name == *key))
            {
                let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
                return Err(ValueError(format!(
                    "no field {key:?} (the fields are {})",
                    names.join(", ")
                )));
            }
            for field in fields {
                let value = dict
                    .get(&field.name)
                    .ok_or_else(|| ValueError(format!("field {:?} is missing", field.name)))?;
                put_scalar(field.scalar, value, out)
                    .map_err(|e| ValueError(format!("{}: {}", field.name, e.0)))?;
            }
            Ok(())
        }
    }
}

fn put_scalar(scalar: Scalar, value: &Value, out: &mut Vec<u8>) -> Result<(), ValueError> {
    let range = |min: i128, max: i128| -> Result<i128, ValueError> {
        let n = match value {
            Value::UInt(n) => i128::from(*n),
            Value::Int(n) => i128::from(*n),
            other => return Err(expected("an integer", other)),
        };
        if n < min || n > max {
            return Err(ValueError(format!(
                "{n} is out of range for {} ({min}..={max})",
                scalar.name()
            )));
        }
        Ok(n)
    };
    // Each `as` below narrows a value just checked to be in range.
    match scalar {
        Scalar::U8 => out.push(range(0, u8::MAX.into())? as u8),
        Scalar::U16 => out.extend((range(0, u16::MAX.into())? as u16).to_le_bytes()),
        Scalar::U32 => out.extend((range(0, u32::MAX.into())? as u32).to_le_bytes()),
        Scalar::U64 => out.extend((range(0, u64::MAX.into())? as u64).to_le_bytes()),
        Scalar::I8 => out.extend((range(i8::MIN.into(), i8::MAX.into())? as i8).to_le_bytes()),
        Scalar::I16 => out.extend((range(i16::MIN.into(), i16::MAX.into())? as i16).to_le_bytes()),
        Scalar::I32 => out.extend((range(i32::MIN.into(), i32::MAX.into())? as i32).to_le_bytes()),
        Scalar::I64 => out.extend((range(i64::MIN.into(), i64::MAX.into())? as i64).to_le_bytes()),
        Scalar::Float => out.extend((number(value)? as f32).to_le_bytes()),
        Scalar::Double => out.extend(number(value)?.to_le_bytes()),
        Scalar::Char => match value {
            Value::Str(text) if text.len() == 1 => out.extend_from_slice(text.as_bytes()),
            other => return Err(expected("a one-byte string", other)),
        },
    }
    Ok(())
}

fn number(value: &Value) -> Result<f64, ValueError> {
    match value {
        Value::Float(f) => Ok(*f),
        Value::UInt(n) => Ok(*n as f64),
        Value::Int(n) => Ok(*n as f64),
        other => Err(expected("a number", other)),
    }
}

/// One element of `bytes` (exactly its size).
fn element(element: &Element, bytes: &[u8]) -> Value {
    match element {
        Element::Scalar(s) => scalar(*s, bytes),
        Element::Struct(fields) => {
            let mut dict = Dict::new();
            let mut at = 0;
            for field in fields {
                let end = at + field.scalar.bytes();
                dict.insert(field.name.as_str(), scalar(field.scalar, &bytes[at..end]));
                at = end;
            }
            Value::Dict(dict)
        }
    }
}

/// One scalar of `bytes` (exactly its size).
fn scalar(scalar: Scalar, bytes: &[u8]) -> Value {
    let mut le = [0u8; 8];
    le[..bytes.len()].copy_from_slice(bytes);
    let unsigned = u64::from_le_bytes(le);
    // Sign-extends from the scalar's width.
    let shift = 64 - 8 * bytes.len() as u32;
    let signed = ((unsigned << shift) as i64) >> shift;
    match scalar {
        Scalar::U8 | Scalar::U16 | Scalar::U32 | Scalar::U64 => Value::UInt(unsigned),
        Scalar::I8 | Scalar::I16 | Scalar::I32 | Scalar::I64 => Value::from_i64(signed),
        Scalar::Float => Value::Float(f64::from(f32::from_bits(unsigned as u32))),
        Scalar::Double => Value::Float(f64::from_bits(unsigned)),
        Scalar::Char => Value::Str(String::from_utf8_lossy(bytes).into_owned()),
    }
}

fn expected(what: &str, got: &Value) -> ValueError {
    ValueError(format!("expected {what}, got a {}", got.type_name()))
}

fn short(ty: &RegisterType, got: usize) -> ValueError {
    ValueError(format!(
        "{got} bytes are too few for a value of {}",
        match ty.element {
            Element::Scalar(s) => s.name(),
            Element::Struct(_) => "a dictionary",
        }
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use proptest::prelude::*;

    use super::super::types::{Field, Prefix};
    use super::*;

    fn ty(element: Element, count: Count) -> RegisterType {
        RegisterType { element, count }
    }

    fn rgb() -> Element {
        Element::Struct(
            ["red", "green", "blue"]
                .into_iter()
                .map(|name| Field {
                    name: name.into(),
                    scalar: Scalar::U8,
                })
                .collect(),
        )
    }

    #[test]
    fn values_have_the_documented_layout() {
        let cases: Vec<(RegisterType, Value, Vec<u8>)> = vec![
            (
                ty(Element::Scalar(Scalar::U16), Count::Fixed(1)),
                Value::UInt(0x0102),
                vec![2, 1],
            ),
            (
                ty(Element::Scalar(Scalar::I8), Count::Fixed(1)),
                Value::Int(-2),
                vec![0xfe],
            ),
            (
                ty(Element::Scalar(Scalar::Float), Count::Fixed(1)),
                Value::Float(1.5),
                1.5f32.to_le_bytes().to_vec(),
            ),
            (
                ty(rgb(), Count::Fixed(1)),
                Value::Dict(
                    [("red", 1u64), ("green", 2), ("blue", 3)]
                        .into_iter()
                        .map(|(k, v)| (k, Value::UInt(v)))
                        .collect(),
                ),
                vec![1, 2, 3],
            ),
            (
                ty(Element::Scalar(Scalar::Char), Count::Prefixed(Prefix::U16)),
                Value::from("hé"),
                vec![3, 0, b'h', 0xc3, 0xa9],
            ),
            (
                ty(Element::Scalar(Scalar::Char), Count::Fixed(4)),
                Value::from("ab"),
                vec![b'a', b'b', 0, 0],
            ),
            (
                ty(Element::Scalar(Scalar::U16), Count::Prefixed(Prefix::U8)),
                Value::List(vec![Value::UInt(2), Value::UInt(3)]),
                vec![2, 2, 0, 3, 0],
            ),
        ];
        for (ty, value, bytes) in cases {
            assert_eq!(encode(&ty, &value).unwrap(), bytes, "{ty:?}");
            assert_eq!(decode(&ty, &bytes).unwrap(), value, "{ty:?}");
        }
    }

    #[test]
    fn misfits_say_what_is_wrong() {
        let u8s = ty(Element::Scalar(Scalar::U8), Count::Fixed(2));
        for (ty, value, says) in [
            (&u8s, Value::List(vec![Value::UInt(1)]), "exactly 2"),
            (
                &u8s,
                Value::List(vec![Value::UInt(1), Value::UInt(256)]),
                "[1]: 256 is out of range for uint8",
            ),
            (&u8s, Value::from("x"), "expected a list"),
            (
                &ty(rgb(), Count::Fixed(1)),
                Value::Dict(Dict::new()),
                "field \"red\" is missing",
            ),
            (
                &ty(Element::Scalar(Scalar::Char), Count::Fixed(1)),
                Value::from("ab"),
                "the register holds 1",
            ),
        ] {
            let error = encode(ty, &value).unwrap_err().0;
            assert!(error.contains(says), "{error}");
        }
        assert!(decode(&u8s, &[1]).unwrap_err().0.contains("2 bytes long"));
    }

    fn scalar_type() -> impl Strategy<Value = Scalar> {
        proptest::sample::select(vec![
            Scalar::U8,
            Scalar::U16,
            Scalar::U32,
            Scalar::U64,
            Scalar::I8,
            Scalar::I16,
            Scalar::I32,
            Scalar::I64,
            Scalar::Float,
            Scalar::Double,
            Scalar::Char,
        ])
    }

    fn register_type() -> impl Strategy<Value = RegisterType> {
        let element = prop_oneof![
            scalar_type().prop_map(Element::Scalar),
            proptest::collection::vec(
                scalar_type().prop_filter("no char fields", |s| *s != Scalar::Char),
                1..4
            )
            .prop_map(|scalars| Element::Struct(
                scalars
                    .into_iter()
                    .enumerate()
                    .map(|(i, scalar)| Field {
                        name: format!("f{i}"),
                        scalar
                    })
                    .collect()
            )),
        ];
        let count = prop_oneof![
            (1u16..6).prop_map(Count::Fixed),
            Just(Count::Prefixed(Prefix::U8)),
            Just(Count::Prefixed(Prefix::U16)),
        ];
        (element, count).prop_map(|(element, count)| RegisterType { element, count })
    }

    proptest! {
        /// Whatever bytes of the right length a device sends decode, and
        /// the value encodes to the same bytes (strings: when valid UTF-8
        /// and not padded; floats: when not NaN, whose bits vary).
        #[test]
        fn register_bytes_survive_decode_and_encode(
            ty in register_type(),
            seed in proptest::collection::vec(any::<u8>(), 0..64),
            count in 0usize..5,
        ) {
            let size = ty.element.bytes();
            let mut bytes = match ty.count {
                Count::Fixed(_) => vec![],
                Count::Prefixed(Prefix::U8) => vec![count as u8],
                Count::Prefixed(Prefix::U16) => (count as u16).to_le_bytes().to_vec(),
            };
            let body = match ty.count { Count::Fixed(n) => usize::from(n) * size, _ => count * size };
            bytes.extend((0..body).map(|i| seed.get(i % seed.len().max(1)).copied().unwrap_or(0)));
            let value = decode(&ty, &bytes).unwrap();
            let text = &bytes[bytes.len() - body..];
            let plain = !ty.is_string() || std::str::from_utf8(text).is_ok() && !text.ends_with(&[0]);
            let has_nan = format!("{value:?}").contains("NaN");
            if plain && !has_nan {
                prop_assert_eq!(encode(&ty, &value).unwrap(), bytes);
            }
        }

        /// Any bytes against any type: a value or a reason, no panic.
        #[test]
        fn any_bytes_decode_or_say_why(ty in register_type(), bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = decode(&ty, &bytes);
        }
    }
}
