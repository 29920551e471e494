//! The values a statement binds and a row holds, converted to and from Rust types once, here.

use std::fmt;

/// The largest integer a D1 parameter or result carries exactly (it travels as a JS number).
pub const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// One SQL value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Null => f.write_str("NULL"),
            Self::Integer(n) => write!(f, "{n}"),
            Self::Real(x) => write!(f, "{x}"),
            Self::Text(s) => write!(f, "{s:?}"),
        }
    }
}

impl From<&str> for Value {
    fn from(value: &str) -> Self {
        Self::Text(value.to_owned())
    }
}

impl From<String> for Value {
    fn from(value: String) -> Self {
        Self::Text(value)
    }
}

impl From<&String> for Value {
    fn from(value: &String) -> Self {
        Self::Text(value.clone())
    }
}

impl From<bool> for Value {
    fn from(value: bool) -> Self {
        Self::Integer(i64::from(value))
    }
}

impl From<f64> for Value {
    fn from(value: f64) -> Self {
        Self::Real(value)
    }
}

macro_rules! from_integer {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(value: $t) -> Self {
                Self::Integer(i64::from(value))
            }
        }
    )*};
}
from_integer!(u8, u16, u32, i32, i64);

impl From<u64> for Value {
    /// Epoch milliseconds and counts: far below `i64::MAX`; saturates rather than wraps.
    fn from(value: u64) -> Self {
        Self::Integer(i64::try_from(value).unwrap_or(i64::MAX))
    }
}

impl From<usize> for Value {
    fn from(value: usize) -> Self {
        Self::from(value as u64)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(value: Option<T>) -> Self {
        value.map_or(Self::Null, Into::into)
    }
}

/// A Rust type read from one column. The error says what was found instead.
pub trait FromValue: Sized {
    fn from_value(value: &Value) -> Result<Self, String>;
}

fn expected(what: &str, found: &Value) -> String {
    format!("expected {what}, found {found}")
}

impl FromValue for i64 {
    fn from_value(value: &Value) -> Result<Self, String> {
        match value {
            Value::Integer(n) => Ok(*n),
            // A REAL column holding a whole number, as a JS number may arrive.
            Value::Real(x) if x.fract() == 0.0 && x.abs() <= MAX_SAFE_INTEGER as f64 => Ok(*x as i64),
            other => Err(expected("an integer", other)),
        }
    }
}

impl FromValue for u64 {
    fn from_value(value: &Value) -> Result<Self, String> {
        let n = i64::from_value(value)?;
        u64::try_from(n).map_err(|_| expected("a non-negative integer", value))
    }
}

macro_rules! narrow_integer {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            fn from_value(value: &Value) -> Result<Self, String> {
                let n = i64::from_value(value)?;
                <$t>::try_from(n).map_err(|_| expected(concat!("an integer fitting ", stringify!($t)), value))
            }
        }
    )*};
}
narrow_integer!(u8, u16, u32, i32);

impl FromValue for f64 {
    fn from_value(value: &Value) -> Result<Self, String> {
        match value {
            Value::Integer(n) => Ok(*n as f64),
            Value::Real(x) => Ok(*x),
            other => Err(expected("a number", other)),
        }
    }
}

impl FromValue for bool {
    fn from_value(value: &Value) -> Result<Self, String> {
        match i64::from_value(value) {
            Ok(0) => Ok(false),
            Ok(1) => Ok(true),
            _ => Err(expected("0 or 1", value)),
        }
    }
}

impl FromValue for String {
    fn from_value(value: &Value) -> Result<Self, String> {
        match value {
            Value::Text(s) => Ok(s.clone()),
            other => Err(expected("text", other)),
        }
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(value: &Value) -> Result<Self, String> {
        match value {
            Value::Null => Ok(None),
            other => T::from_value(other).map(Some),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_reals_read_as_integers_and_fractions_do_not() {
        assert_eq!(u64::from_value(&Value::Real(3.0)), Ok(3));
        assert!(u64::from_value(&Value::Real(3.5)).is_err());
        assert!(u64::from_value(&Value::Integer(-1)).is_err());
        assert!(u8::from_value(&Value::Integer(300)).is_err());
    }

    #[test]
    fn flags_are_zero_or_one() {
        assert_eq!(bool::from_value(&Value::Integer(1)), Ok(true));
        assert!(bool::from_value(&Value::Integer(2)).is_err());
        assert_eq!(Option::<bool>::from_value(&Value::Null), Ok(None));
    }
}
