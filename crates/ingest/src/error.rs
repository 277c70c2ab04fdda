//! Why a whole export request cannot be used. Items that are individually bad are not errors
//! but [`Rejections`](crate::Rejections), reported back through OTLP partial success.
//!
//! Every variant means the client sent something it must fix, so all of them become HTTP 400
//! or gRPC `INVALID_ARGUMENT`; that mapping is the server's.

use thiserror::Error;

use crate::SignalType;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum IngestError {
    /// The body is not a valid export request of the signal: bad protobuf, invalid JSON, or
    /// JSON of the wrong shape (a field of the wrong type, an id that is not hex).
    #[error("malformed {signal} request: {reason}")]
    Malformed { signal: SignalType, reason: String },
    /// OTLP/JSON the decoder would silently read as empty: a snake_case key such as
    /// `resource_spans`, or an object none of whose keys OTLP defines.
    #[error("unsupported otlp/json {signal} request: key \"{key}\" at {path} {explanation}")]
    UnsupportedJson {
        signal: SignalType,
        key: String,
        path: String,
        explanation: String,
    },
}
