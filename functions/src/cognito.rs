//! A lenient, zero-copy view of Cognito trigger events.
//!
//! The trigger must answer with the event it received, so the raw JSON is
//! kept as it is and returned untouched: nothing Cognito sends is lost, and
//! fields added by AWS later pass through. This view only reads what
//! authtrail needs, and a field of the wrong type is recorded as such instead
//! of failing the whole sign-in (see [`Lenient`]). Shapes: AWS Cognito
//! developer guide, "Pre authentication Lambda trigger" and "Post
//! authentication Lambda trigger".

use std::borrow::{Borrow, Cow};
use std::collections::HashMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{Deserializer, Visitor};
use serde_json::value::RawValue;

/// A string borrowed from the input when it has no escapes, owned otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CowStr<'a>(pub Cow<'a, str>);

impl<'a> CowStr<'a> {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for CowStr<'_> {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for CowStr<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CowStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(V)
    }
}

/// A field that may be absent, null, of the right type, or of the wrong type.
#[derive(Debug, Default)]
pub enum Lenient<'a, T> {
    #[default]
    Absent,
    Null,
    Value(T),
    /// Present but not a `T`; the raw JSON is kept for the note.
    Invalid(&'a RawValue),
}

impl<'a, T> Lenient<'a, T> {
    pub fn value(&self) -> Option<&T> {
        match self {
            Lenient::Value(v) => Some(v),
            _ => None,
        }
    }

    pub fn is_invalid(&self) -> bool {
        matches!(self, Lenient::Invalid(_))
    }
}

impl<'de: 'a, 'a, T: Deserialize<'de>> Deserialize<'de> for Lenient<'a, T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = <&'de RawValue>::deserialize(d)?;
        if raw.get() == "null" {
            return Ok(Lenient::Null);
        }
        Ok(match serde_json::from_str::<T>(raw.get()) {
            Ok(v) => Lenient::Value(v),
            Err(_) => Lenient::Invalid(raw),
        })
    }
}

impl<'a> Lenient<'a, CowStr<'a>> {
    pub fn str(&self) -> Option<&str> {
        self.value().map(CowStr::as_str)
    }
}

/// A Cognito string map (`userAttributes`, `validationData`,
/// `clientMetadata`); values that are not strings are kept as invalid.
#[derive(Debug, Default, Deserialize)]
#[serde(transparent)]
pub struct StrMap<'a>(#[serde(borrow)] pub HashMap<CowStr<'a>, Lenient<'a, CowStr<'a>>>);

impl StrMap<'_> {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.str())
    }

    pub fn invalid_keys(&self) -> impl Iterator<Item = &str> {
        self.0.iter().filter(|(_, v)| v.is_invalid()).map(|(k, _)| k.as_str())
    }
}

impl pipeline::context::StringMap for StrMap<'_> {
    fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key)
    }
    fn is_empty_map(&self) -> bool {
        self.0.is_empty()
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallerContext<'a> {
    #[serde(default, borrow)]
    pub aws_sdk_version: Lenient<'a, CowStr<'a>>,
    #[serde(default, borrow)]
    pub client_id: Lenient<'a, CowStr<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Request<'a> {
    #[serde(default, borrow)]
    pub user_attributes: Lenient<'a, StrMap<'a>>,
    /// Pre-auth: the `ClientMetadata` of `(Admin)InitiateAuth`.
    #[serde(default, borrow)]
    pub validation_data: Lenient<'a, StrMap<'a>>,
    /// Post-auth: only filled from `RespondToAuthChallenge`.
    #[serde(default, borrow)]
    pub client_metadata: Lenient<'a, StrMap<'a>>,
    /// Pre-auth, only with PreventUserExistenceErrors.
    #[serde(default, borrow)]
    pub user_not_found: Lenient<'a, bool>,
    /// Post-auth, only with remembered devices.
    #[serde(default, borrow)]
    pub new_device_used: Lenient<'a, bool>,
}

/// The common envelope of Cognito user-pool trigger events.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TriggerEvent<'a> {
    #[serde(default, borrow)]
    pub version: Lenient<'a, CowStr<'a>>,
    #[serde(default, borrow)]
    pub trigger_source: Lenient<'a, CowStr<'a>>,
    #[serde(default, borrow)]
    pub region: Lenient<'a, CowStr<'a>>,
    #[serde(default, borrow)]
    pub user_pool_id: Lenient<'a, CowStr<'a>>,
    #[serde(default, borrow)]
    pub user_name: Lenient<'a, CowStr<'a>>,
    #[serde(default, borrow)]
    pub caller_context: Lenient<'a, CallerContext<'a>>,
    #[serde(default, borrow)]
    pub request: Lenient<'a, Request<'a>>,
}

impl<'a> TriggerEvent<'a> {
    /// Parses the envelope; fails only when the input is not a JSON object.
    pub fn parse(raw: &'a str) -> Result<Self, serde_json::Error> {
        // serde would also accept a JSON array as a struct; Cognito sends objects.
        if !raw.trim_start().starts_with('{') {
            return Err(serde::de::Error::custom("expected a JSON object"));
        }
        serde_json::from_str(raw)
    }

    pub fn request(&self) -> Option<&Request<'a>> {
        self.request.value()
    }

    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.request().and_then(|r| r.user_attributes.value()).and_then(|a| a.get(name))
    }

    /// Fields present with the wrong type, as `path` strings for the event's notes.
    pub fn invalid_fields(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut check = |path: &str, invalid: bool| {
            if invalid {
                out.push(format!("{path} has the wrong type"));
            }
        };
        check("version", self.version.is_invalid());
        check("triggerSource", self.trigger_source.is_invalid());
        check("region", self.region.is_invalid());
        check("userPoolId", self.user_pool_id.is_invalid());
        check("userName", self.user_name.is_invalid());
        check("callerContext", self.caller_context.is_invalid());
        check("request", self.request.is_invalid());
        if let Some(c) = self.caller_context.value() {
            check("callerContext.clientId", c.client_id.is_invalid());
        }
        if let Some(r) = self.request() {
            check("request.userAttributes", r.user_attributes.is_invalid());
            check("request.validationData", r.validation_data.is_invalid());
            check("request.clientMetadata", r.client_metadata.is_invalid());
            check("request.userNotFound", r.user_not_found.is_invalid());
            check("request.newDeviceUsed", r.new_device_used.is_invalid());
            for (name, map) in [
                ("request.userAttributes", &r.user_attributes),
                ("request.validationData", &r.validation_data),
                ("request.clientMetadata", &r.client_metadata),
            ] {
                if let Some(m) = map.value() {
                    let mut keys: Vec<&str> = m.invalid_keys().collect();
                    keys.sort_unstable();
                    for k in keys {
                        out.push(format!("{name}.{k} is not a string"));
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn borrows_plain_strings_and_owns_escaped_ones() {
        let raw = r#"{"userName":"alice","userPoolId":"eu-west-1_A\"B"}"#;
        let e = TriggerEvent::parse(raw).unwrap();
        assert!(matches!(e.user_name.value().unwrap().0, Cow::Borrowed("alice")));
        assert_eq!(e.user_pool_id.str(), Some("eu-west-1_A\"B"));
    }

    #[test]
    fn wrong_types_are_kept_as_invalid_not_errors() {
        let raw = r#"{"userName":42,"userPoolId":"p","request":{"newDeviceUsed":"yes","userAttributes":{"sub":"s","n":1},"validationData":[]}}"#;
        let e = TriggerEvent::parse(raw).unwrap();
        assert!(e.user_name.is_invalid());
        let notes = e.invalid_fields();
        assert!(notes.contains(&"userName has the wrong type".to_string()), "{notes:?}");
        assert!(notes.contains(&"request.newDeviceUsed has the wrong type".to_string()), "{notes:?}");
        assert!(notes.contains(&"request.validationData has the wrong type".to_string()), "{notes:?}");
        assert!(notes.contains(&"request.userAttributes.n is not a string".to_string()), "{notes:?}");
        assert_eq!(e.attribute("sub"), Some("s"));
    }

    #[test]
    fn not_an_object_is_an_error() {
        assert!(TriggerEvent::parse("[1,2]").is_err());
        assert!(TriggerEvent::parse("{\"userName\":").is_err());
    }
}
