//! Forgiving serde helpers: an odd value in an optional or cosmetic field must not cost the
//! whole frame (SPEC §2.2: "one odd part never drops the frame").

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// `null` (or an absent key, with `#[serde(default)]`) becomes `T::default()`.
pub(crate) fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// A `{string: string}` map whose values may arrive as numbers or booleans (the spec says strings,
/// servers are not always strict). Non-strings are stringified; `null` values are dropped;
/// a map that is not an object at all becomes empty.
pub(crate) fn string_map<'de, D>(deserializer: D) -> Result<BTreeMap<String, String>, D::Error>
where
    D: Deserializer<'de>,
{
    let value = Value::deserialize(deserializer)?;
    let Value::Object(entries) = value else {
        return Ok(BTreeMap::new());
    };
    // Inserted, not collected: collecting into a BTreeMap instantiates a stable sort (size in wasm).
    let mut strings = BTreeMap::new();
    for (key, value) in entries {
        if let Some(text) = stringify(value) {
            strings.insert(key, text);
        }
    }
    Ok(strings)
}

fn stringify(value: Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(text) => Some(text),
        other => Some(other.to_string()),
    }
}

/// An optional non-negative integer that may arrive as an integer, a float or a numeric
/// string. Anything else (negative, garbage) reads as absent instead of failing the frame.
pub(crate) fn opt_u64<'de, D>(deserializer: D) -> Result<Option<u64>, D::Error>
where
    D: Deserializer<'de>,
{
    let value = Value::deserialize(deserializer)?;
    Ok(value_as_u64(&value))
}

/// Reads a JSON value as a non-negative integer (see [`opt_u64`]).
pub(crate) fn value_as_u64(value: &Value) -> Option<u64> {
    match value {
        Value::Number(number) => number.as_u64().or_else(|| {
            number
                .as_f64()
                .filter(|float| float.is_finite() && *float >= 0.0 && *float < u64::MAX as f64)
                .map(|float| float as u64)
        }),
        Value::String(text) => text.trim().parse::<u64>().ok(),
        _ => None,
    }
}

/// Reads a JSON value as a signed integer: integer, finite float (truncated) or numeric string.
pub(crate) fn value_as_i64(value: &Value) -> Option<i64> {
    match value {
        Value::Number(number) => number.as_i64().or_else(|| {
            number
                .as_f64()
                .filter(|float| float.is_finite() && float.abs() < i64::MAX as f64)
                .map(|float| float as i64)
        }),
        Value::String(text) => text.trim().parse::<i64>().ok(),
        _ => None,
    }
}
