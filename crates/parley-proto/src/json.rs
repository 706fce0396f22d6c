//! Shared parsing of `type`-tagged JSON frames.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::ProtoError;

/// Parses `text` as a `type`-tagged JSON object into `T`.
///
/// Errors: [`ProtoError::Malformed`] if it is not a JSON object with a string
/// `type`, or a known type has bad fields; [`ProtoError::UnknownType`] if the `type`
/// is not in `known_types`.
pub(crate) fn parse_tagged<T: DeserializeOwned>(
    text: &str,
    known_types: &[&str],
) -> Result<T, ProtoError> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(ProtoError::malformed)?;
    let type_name = match value.as_object().map(|o| o.get("type")) {
        None => return Err(ProtoError::malformed("frame is not a JSON object")),
        Some(None) => return Err(ProtoError::malformed("missing \"type\"")),
        Some(Some(serde_json::Value::String(t))) => t.clone(),
        Some(Some(_)) => return Err(ProtoError::malformed("\"type\" is not a string")),
    };
    if !known_types.contains(&type_name.as_str()) {
        // Echoed back in the error: never more than a short prefix of it.
        let type_name = crate::error::clip(&type_name, crate::error::MAX_ECHOED_CHARS);
        return Err(ProtoError::UnknownType { type_name });
    }
    serde_json::from_value(value).map_err(ProtoError::malformed)
}

/// Serialises a wire type to compact JSON.
pub(crate) fn to_json<T: Serialize>(value: &T) -> String {
    // Wire types are plain structs and enums with string keys: serialisation
    // cannot fail, so this is an invariant, not an error path.
    serde_json::to_string(value).expect("wire types always serialise to JSON")
}
